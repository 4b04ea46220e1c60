package dev.editr1.world;

/**
 * One editing task: a source scene, an instruction in words, the requirement the judge checks,
 * and the exact target scene.
 */
public record EditTask(Family family, Scene source, String instruction, String requirement, Scene target) {
    /** Groups and bans are keyed by (source image, instruction), not by the instruction alone. */
    public String key() {
        return source.key() + "#" + instruction;
    }
}
