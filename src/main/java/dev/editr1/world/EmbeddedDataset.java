package dev.editr1.world;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.editr1.data.EditDataset;
import dev.editr1.data.EditItem;

/**
 * The embedded world (SPEC §8) as a dataset: train and held-out tasks from one world seed, rendered
 * on demand and cached. Every item has its exact target. Item ids are {@code train:i} and
 * {@code test:i}; the source key is the scene's description, so groups are keyed by (source scene,
 * instruction).
 */
public final class EmbeddedDataset implements EditDataset {
    private final long worldSeed;
    private final Renderer renderer;
    private final List<EditItem> train, heldOut;
    private final Map<String, EditTask> tasks = new HashMap<>();
    private final Map<String, float[]> sources = new HashMap<>(), targets = new HashMap<>();

    public EmbeddedDataset(long worldSeed, int trainTasks, int heldOutTasks, int imageSize) {
        this.worldSeed = worldSeed;
        EditWorld.Split s = EditWorld.standard().split(worldSeed, trainTasks, heldOutTasks);
        this.renderer = new Renderer(imageSize);
        this.train = items("train", s.train());
        this.heldOut = items("test", s.heldOut());
    }

    private List<EditItem> items(String split, List<EditTask> list) {
        List<EditItem> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            EditTask t = list.get(i);
            EditItem it = new EditItem(split + ":" + i, t.instruction(), t.requirement(), t.source().key(), true);
            tasks.put(it.id(), t);
            out.add(it);
        }
        return List.copyOf(out);
    }

    /** The world's task behind an item (its family, scenes). */
    public EditTask task(EditItem item) {
        EditTask t = tasks.get(item.id());
        if (t == null) throw new IllegalArgumentException("item " + item.id() + " is not from the embedded world");
        return t;
    }

    @Override
    public String describe() {
        return "embedded world (seed " + worldSeed + ", " + train.size() + " train, " + heldOut.size() + " held-out tasks, "
                + renderer.size() + "² canvases)";
    }

    @Override
    public List<EditItem> train() {
        return train;
    }

    @Override
    public List<EditItem> heldOut() {
        return heldOut;
    }

    @Override
    public int resolution() {
        return renderer.size();
    }

    @Override
    public synchronized float[] source(EditItem item) {
        return sources.computeIfAbsent(item.id(), k -> renderer.render(task(item).source()));
    }

    @Override
    public synchronized float[] target(EditItem item) {
        return targets.computeIfAbsent(item.id(), k -> renderer.render(task(item).target()));
    }
}
