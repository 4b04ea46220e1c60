package dev.editr1.data;

/**
 * One editing task of a dataset: a source image, an instruction and the judge's per-task
 * requirement, and possibly an exact target. The images themselves come from the dataset
 * ({@link EditDataset#source}, {@link EditDataset#target}), so an item is a small value that can be
 * grouped, logged and used as a cache key.
 *
 * @param id          unique within its dataset (e.g. {@code train:42} or {@code train_metadata.jsonl:43})
 * @param prompt      the edit instruction, non-empty
 * @param requirement the per-task requirement of the judge prompt ("" when the dataset has none)
 * @param sourceKey   identifies the source image (a relative path, or the embedded scene's description)
 * @param hasTarget   whether the dataset holds an exact target for this item
 */
public record EditItem(String id, String prompt, String requirement, String sourceKey, boolean hasTarget) {
    public EditItem {
        if (prompt == null || prompt.isBlank()) throw new IllegalArgumentException("edit item " + id + " has an empty prompt");
        if (requirement == null) requirement = "";
    }

    /** Groups and bans are keyed by (source image, instruction), not by the instruction alone (SPEC §5). */
    public String groupKey() {
        return sourceKey + "#" + prompt;
    }
}
