package dev.editr1.train;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.reward.JudgeRequest;
import dev.editr1.world.Batch;
import dev.editr1.world.EditTask;
import dev.editr1.world.EditWorld;
import dev.editr1.world.Quality;
import dev.editr1.world.Renderer;
import dev.editr1.world.Vocabulary;

/** The embedded world's train and held-out tasks, rendered once and cached. */
public final class WorldData {
    public final List<EditTask> train, heldOut;
    public final Renderer renderer;
    public final Vocabulary vocab;
    private final Map<EditTask, float[]> sources = new HashMap<>(), targets = new HashMap<>();
    private final Map<EditTask, int[]> ids = new HashMap<>();

    public WorldData(long worldSeed, int trainTasks, int heldOutTasks, int imageSize) {
        EditWorld.Split s = EditWorld.standard().split(worldSeed, trainTasks, heldOutTasks);
        this.train = s.train();
        this.heldOut = s.heldOut();
        this.renderer = new Renderer(imageSize);
        this.vocab = Vocabulary.standard();
    }

    public synchronized float[] source(EditTask t) {
        return sources.computeIfAbsent(t, k -> renderer.render(k.source()));
    }

    public synchronized float[] target(EditTask t) {
        return targets.computeIfAbsent(t, k -> renderer.render(k.target()));
    }

    public synchronized int[] ids(EditTask t) {
        return ids.computeIfAbsent(t, k -> vocab.encode(k.instruction()));
    }

    /**
     * The judge's requests for sampled images of tasks (request ids idBase + i), and the true quality
     * of each image, written to quality[offset + i].
     *
     * @param images the samples, [tasks.size(), 3, S, S] flattened
     */
    public List<JudgeRequest> judgeRequests(List<EditTask> tasks, float[] images, long idBase, double[] quality,
                                            int offset) {
        List<JudgeRequest> req = new ArrayList<>(tasks.size());
        for (int i = 0; i < tasks.size(); i++) {
            EditTask t = tasks.get(i);
            float[] img = Batch.image(images, i, size());
            quality[offset + i] = Quality.of(img, source(t), target(t));
            req.add(new JudgeRequest(idBase + i, source(t), img, t.instruction(), t.requirement(), target(t)));
        }
        return req;
    }

    public int size() {
        return renderer.size();
    }

    public Tensor sources(List<EditTask> tasks) {
        return Batch.images(tasks.stream().map(this::source).toList(), size());
    }

    public Tensor targets(List<EditTask> tasks) {
        return Batch.images(tasks.stream().map(this::target).toList(), size());
    }

    public Tensor idTensor(List<EditTask> tasks) {
        return Batch.ids(tasks.stream().map(this::ids).toList(), vocab.length());
    }
}
