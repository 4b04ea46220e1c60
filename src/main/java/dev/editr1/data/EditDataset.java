package dev.editr1.data;

import java.util.List;

/**
 * A dataset of edit tasks: a train split that rollouts draw prompts from and a held-out split for
 * evaluation. Images are returned at the dataset's {@link #resolution()} as channel-major floats
 * [3, S, S] in [−1, 1] (pixel value v ↦ v / 127.5 − 1).
 *
 * <p>Implementations: the embedded world ({@code dev.editr1.world.EmbeddedDataset}) and a folder in
 * Edit-R1's layout ({@link FolderDataset}). Thread-safe: the judge's thread reads images while
 * rollouts run.
 */
public interface EditDataset {
    /** A short description for logs and run folders. */
    String describe();

    List<EditItem> train();

    List<EditItem> heldOut();

    /** Pixels per side of every image returned. */
    int resolution();

    /** The source image [3, S, S]. */
    float[] source(EditItem item);

    /** The exact target [3, S, S], or null when the item has none. */
    float[] target(EditItem item);

    /**
     * SHA-256 (hex) of the source image: of the file's bytes for a folder dataset (what
     * {@code tools/} scripts hash when they fill a conditioning cache), of the PNG encoding of the
     * rendered image otherwise.
     */
    default String sourceDigest(EditItem item) {
        try {
            return Digests.sha256(ImageCodec.encode(source(item), resolution(), ImageFormat.PNG));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
