package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.data.EditDataset;
import dev.editr1.data.EditItem;
import dev.editr1.data.FolderDataset;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.Backend;
import dev.editr1.kernels.HeapRetention;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;
import dev.editr1.model.ModelKind;
import dev.editr1.reward.Judge;
import dev.editr1.reward.Judges;
import dev.editr1.world.EmbeddedDataset;

/**
 * Everything a run uses, resolved once from its {@link TrainConfig}: the device and kernels
 * ({@link Backend}), threads, the model and its codec, the dataset, the sigma grid and solver, the
 * judge, and the per-item conditioning cache. {@code train}, {@code sft}, {@code eval},
 * {@code sample} and {@code calibrate} all start from one; the commands only parse options.
 *
 * <p>Every tensor it hands out lives on {@link #device()}. The judge works on host data (images go
 * to it as floats, over HTTP for a real MLLM), so it scores on the CPU.
 */
public final class RunContext implements AutoCloseable {
    /** Builds the model of a run on its device (the default loads {@code config.model} from {@code config.weights}). */
    public interface ModelSource {
        EditingModel load(TrainConfig config, Device device) throws IOException;
    }

    public final TrainConfig config;
    public final Backend backend;
    public final KernelOps ops;
    public final EditingModel model;
    public final EditDataset data;
    public final double[] sigmas;
    private SideThread side;
    /** Items' conditionings, least recently used first; evicted ones are released. */
    private final LinkedHashMap<String, Conditioning> conditions = new LinkedHashMap<>(16, 0.75f, true);
    private Judge judge;

    private RunContext(TrainConfig config, Backend backend, KernelOps ops, EditingModel model, EditDataset data) {
        this.config = config;
        this.backend = backend;
        this.ops = ops;
        this.model = model;
        this.data = data;
        this.sigmas = SigmaSchedule.preset(config.sigmaPreset, config.steps, model.imageTokens(), Double.NaN);
        this.side = SideThread.open(SideThread.choose(config.forwardThreads, backend.kind == Backend.Kind.CPU).threads());
    }

    /** The trainer's second thread, or inline work ({@link SideThread#choose}). */
    public SideThread side() {
        return side;
    }

    /** Replaces the side thread (tests: one that is concurrent whatever the machine's load). */
    synchronized void useSide(SideThread s) {
        side.close();
        side = s;
    }

    /** Resolves a run from its configuration (validated first) and says what it chose on {@code log}. */
    public static RunContext open(TrainConfig config, PrintStream log) throws IOException {
        return open(config, log, null, null);
    }

    /**
     * @param ops   kernels to use instead of the backend's (benchmarks time them, tests watch them), or null
     * @param model builds the model instead of loading {@code config.model} (SFT starts from scratch), or null
     */
    public static RunContext open(TrainConfig config, PrintStream log, KernelOps ops, ModelSource model) throws IOException {
        config.validate();
        Backend backend = Backend.resolve(config.device, config.impl, Backend.checkFiniteSetting());
        Backend.setCpuThreads(config.threads, config.kernelThreads);
        HeapRetention.setting();   // a bad -Deditr1.heapRetainMb stops the run here, with its message
        NativeMemory.track(backend.kind == Backend.Kind.CUDA ? backend.deviceIndex : -1);
        EditingModel m = model != null ? model.load(config, backend.device())
                : config.model.load(config.weights, backend.device(), config.baseDtype, new ModelKind.LoadOptions(config.resolution,
                        config.guidance, config.textTokens, config.textMask, conditionCache(config)));
        EditDataset data = dataset(config, m.resolution(), log);
        m.preflight(data);
        RunContext ctx = new RunContext(config, backend, ops != null ? ops : backend.ops(), m, data);
        int blas = Backend.adaptBlasThreads(config.blasThreads);
        log.printf(Locale.ROOT, "device: %s; libtorch %d CPU thread%s, OpenBLAS %d (%s), %s; CPU kernels %s; trainer %d thread%s (%s)%n",
                backend.describe(),
                config.threads, config.threads == 1 ? "" : "s", blas,
                config.blasThreads == 0 ? "blasThreads=0: the CPUs other processes leave free, re-read each epoch; results then depend on the load"
                        : "blasThreads, fixed: OpenBLAS's sums depend on its thread count",
                Backend.blasCoreDescription(),
                Backend.kernelThreadsDescription(), ctx.side.concurrent() ? 2 : 1, ctx.side.concurrent() ? "s" : "",
                SideThread.choose(config.forwardThreads, backend.kind == Backend.Kind.CPU).reason());
        log.println("C heap: " + HeapRetention.description());
        log.println("model: " + m.describe() + "; codec " + m.codec().describe());
        log.println("data: " + data.describe());
        return ctx;
    }

    /** The conditioning cache's folder: conditionCache, else DATA/conditioning/MODEL, else none. */
    static Path conditionCache(TrainConfig c) {
        if (c.conditionCache != null && !c.conditionCache.isEmpty()) return Path.of(c.conditionCache);
        if (c.data != null && !c.data.isEmpty()) return Path.of(c.data, "conditioning", c.model.label());
        return null;
    }

    private static EditDataset dataset(TrainConfig c, int resolution, PrintStream log) throws IOException {
        if (c.data == null || c.data.isEmpty()) {
            if (c.imageSize != resolution)
                throw new IllegalArgumentException("the model edits " + resolution + "² images but the embedded world's imageSize is "
                        + c.imageSize + " (--set imageSize=" + resolution + ")");
            return new EmbeddedDataset(c.worldSeed, c.trainTasks, c.heldOutTasks, c.imageSize);
        }
        FolderDataset d = FolderDataset.open(Path.of(c.data), resolution);
        if (!d.skipped().isEmpty()) {
            log.println("data: skipped " + d.skipped().size() + " line" + (d.skipped().size() == 1 ? "" : "s") + ":");
            d.skipped().stream().limit(20).forEach(s -> log.println("  " + s));
            if (d.skipped().size() > 20) log.println("  … and " + (d.skipped().size() - 20) + " more");
        }
        return d;
    }

    /** The device every tensor of the run lives on. */
    public Device device() {
        return backend.device();
    }

    /** The run's sampler: the grid, the solver and CFG of the configuration. */
    public Rollouts rollouts() {
        return new Rollouts(model, ops, sigmas, config.solver, config.cfgScale);
    }

    /** The judge of the configuration (created on first use, closed with the context). */
    public synchronized Judge judge() {
        if (judge == null) judge = Judges.create(config.judgeSpec(), ops);
        return judge;
    }

    /**
     * One item's conditioning (B = 1): its source image encoded by the model's codec and its
     * instruction, computed once and kept in a cache of {@code conditionCacheItems} items (least
     * recently used ones are dropped). Callers get it through {@link #conditions}, which never hands
     * out the cached tensors themselves, so an eviction cannot free a tensor in use.
     */
    private synchronized Conditioning condition(EditItem item) {
        Conditioning c = conditions.get(item.id());
        if (c != null) return c;
        try (NoGradGuard g = new NoGradGuard()) {
            int s = data.resolution();
            Tensor img = Tensors.fromFloats(data.source(item), device(), 1, 3, s, s);
            c = model.condition(item, data.sourceDigest(item), model.codec().encode(img)).retain();   // cached past the epoch's scope
        }
        conditions.put(item.id(), c);
        if (conditions.size() > config.conditionCacheItems) {
            var eldest = conditions.entrySet().iterator();
            eldest.next().getValue().release();
            eldest.remove();
        }
        return c;
    }

    /** The conditionings of items, as one batch in their order (an item may repeat). */
    public Conditioning conditions(List<EditItem> items) {
        List<Conditioning> cs = new ArrayList<>(items.size());
        for (EditItem it : items) cs.add(condition(it));
        return Conditioning.stack(cs);
    }

    @Override
    public synchronized void close() {
        side.close();
        if (judge != null) judge.close();
        judge = null;
        conditions.values().forEach(Conditioning::release);
        conditions.clear();
    }
}
