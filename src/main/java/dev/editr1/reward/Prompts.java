package dev.editr1.reward;

/**
 * The judge's prompt templates, as data (SPEC §4): the judge sees the source image, then the
 * edited image, then one of these texts. Only the first generated token is read.
 */
public final class Prompts {
    private Prompts() {}

    /** The 0–5 score template: instruction, per-task requirement, and "answer with the number only". */
    public static final String SCORE = String.join("\n",
            "The first image is the original; the second is the result of editing it with this instruction:",
            "\"{instruction}\"",
            "Requirement: {requirement}",
            "Rate how well the edit follows the instruction and meets the requirement, while keeping everything else",
            "unchanged, on a scale from 0 (not at all) to 5 (perfectly).",
            "Answer with the number only.");

    /** The yes/no template (the paper's weaker alternative, for calibration). */
    public static final String YES_NO = String.join("\n",
            "The first image is the original; the second is the result of editing it with this instruction:",
            "\"{instruction}\"",
            "Requirement: {requirement}",
            "Does the edit follow the instruction and meet the requirement, keeping everything else unchanged?",
            "Answer with yes or no only.");

    /** A requirement for instructions that come without one. */
    public static final String DEFAULT_REQUIREMENT = "the edit must do what the instruction asks and change nothing else";

    public static String fill(String template, String instruction, String requirement) {
        String req = requirement == null || requirement.isBlank() ? DEFAULT_REQUIREMENT : requirement;
        return template.replace("{instruction}", instruction).replace("{requirement}", req);
    }
}
