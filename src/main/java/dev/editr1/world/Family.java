package dev.editr1.world;

/** The published task families of instruction-based editing, as the embedded world writes them. */
public enum Family {
    ADD("add", "the new {kind} must appear at the {pos} in {colour}; everything else must stay unchanged"),
    REMOVE("remove", "the {colour} {kind} must be gone, its place showing the background; everything else must stay unchanged"),
    REPLACE("replace", "the {colour} {kind} must become a {colour} {kind2} in the same place; everything else must stay unchanged"),
    RECOLOR("recolor", "the {kind} must turn {colour2} and keep its shape and place; everything else must stay unchanged"),
    MOVE("move", "the {colour} {kind} must leave its place and appear at the {pos}; everything else must stay unchanged"),
    BACKGROUND("background", "the background must become {colour2}; every shape must stay unchanged");

    public final String word;
    /** The per-task requirement template the judge prompt carries (SPEC §4). */
    public final String requirementTemplate;

    Family(String word, String requirementTemplate) {
        this.word = word;
        this.requirementTemplate = requirementTemplate;
    }

    public static Family parse(String s) {
        for (Family f : values()) if (f.word.equalsIgnoreCase(s) || f.name().equalsIgnoreCase(s)) return f;
        throw new IllegalArgumentException("unknown task family '" + s + "'");
    }
}
