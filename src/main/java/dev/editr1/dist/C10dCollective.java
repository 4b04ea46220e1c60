package dev.editr1.dist;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllgatherOptions;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.kernels.Tensors;
import dev.editr1.train.Collective;
import dev.editr1.train.TrainConfig;

/**
 * A {@link Collective} on PyTorch's c10d, the distributed engine of {@code torch.distributed}:
 * a {@code TCPStore} for rendezvous (hosted by rank 0 on MASTER_PORT, or by torchrun's agent), and
 * a process group — {@code ProcessGroupGloo} for CPU tensors, {@code ProcessGroupNCCL} for CUDA
 * ({@link NcclGroup}). Every operation is one or a few c10d collectives; nothing here is a protocol
 * of its own except the liveness keys ({@link Liveness}).
 *
 * <ul>
 *   <li>{@link #gather}: variable lengths — the lengths first ({@code _allgather_base} of one long
 *       per rank), then the values padded to the longest ({@code _allgather_base} of f64);</li>
 *   <li>{@link #allReduceSum}: each rank scales its packed buckets by its weight, then a SUM
 *       all-reduce per bucket (all buckets in flight at once, waited in order);</li>
 *   <li>{@link #broadcast}: buckets from rank 0; text as its length, then its UTF-8 bytes;</li>
 *   <li>{@link #verifySame}: a gather, compared bit for bit with rank 0's.</li>
 * </ul>
 *
 * <p><b>Failure.</b> Every wait is bounded: collectives by {@code distTimeoutSeconds} (Gloo's own
 * timeout), the store by {@code distStoreTimeoutSeconds}. A collective that breaks (a peer's
 * socket closed: it died) asks {@link Liveness} which rank failed and where, and the rank stops
 * with that message; a rank that dies while this one computes is found by the liveness watch
 * without any collective. Stopping prints the message and halts the JVM with
 * {@link #EXIT_PEER_FAILED} — c10d's threads may still be blocked on the dead peer, and the run
 * folder needs no cleanup (checkpoints are written by rename).
 */
public final class C10dCollective implements Collective {
    /** Exit code of a rank that stops because another rank failed or the store is gone. */
    public static final int EXIT_PEER_FAILED = 3;

    /** The distributed settings of a run (fields of {@link TrainConfig}). */
    public record Settings(double timeoutSeconds, double storeTimeoutSeconds, double heartbeatTimeoutSeconds,
                           long bucketBytes) {
        public static Settings of(TrainConfig c) {
            return new Settings(c.distTimeoutSeconds, c.distStoreTimeoutSeconds, c.distHeartbeatTimeoutSeconds,
                    (long) (c.distBucketMB * (1 << 20)));
        }
    }

    private final DistEnv env;
    private final Settings settings;
    private final Store store;
    private final org.bytedeco.pytorch.Backend pg;
    private final Device device;
    private final String backendName;
    private final Liveness liveness;
    private final Fault fault;
    /**
     * The native objects under the stores and the group. A PrefixStore or process group keeps a raw
     * reference to the store under it, and JavaCPP frees a Java-side object's C++ twin when the Java
     * object is collected: every layer stays referenced here for the life of the run.
     */
    private final List<Object> keepAlive = new ArrayList<>();
    private String phase = "start";
    private int epoch = -1;
    /** The all-reduce's bucket buffers for the last tensor signature, kept past the epoch's PointerScope. */
    private String bucketKey;
    private List<Tensor> bucketFlats = List.of();

    private C10dCollective(DistEnv env, Settings settings, Store store, org.bytedeco.pytorch.Backend pg, Device device,
                           String backendName, Liveness liveness) {
        this.env = env;
        this.settings = settings;
        this.store = store;
        this.pg = pg;
        this.device = device;
        this.backendName = backendName;
        this.liveness = liveness;
        this.fault = Fault.fromProperty(env.rank());
    }

    /**
     * Joins the run: connects to (or hosts) the store, waits for every rank, starts the liveness
     * watch and connects the process group — Gloo for a CPU device, NCCL for a CUDA one. A rank that
     * stops answering later ends this process (printed on {@code err}, exit code {@link #EXIT_PEER_FAILED}).
     *
     * @throws IllegalStateException naming what could not be reached or which ranks did not join
     */
    public static C10dCollective open(DistEnv env, Settings s, Device device, PrintStream log, PrintStream err) {
        Liveness[] live = new Liveness[1];
        return open(env, s, device, log, message -> {
            err.println("editr1: rank " + env.rank() + " stops: " + message);
            err.flush();
            log.flush();
            lingerForOthers(env, s, live[0]);
            Runtime.getRuntime().halt(EXIT_PEER_FAILED);
        }, live);
    }

    /** {@link #open} with another stop action (tests record the message instead of halting). */
    static C10dCollective open(DistEnv env, Settings s, Device device, PrintStream log, Liveness.Stop stop) {
        return open(env, s, device, log, stop, new Liveness[1]);
    }

    private static C10dCollective open(DistEnv env, Settings s, Device device, PrintStream log, Liveness.Stop stop,
                                       Liveness[] liveOut) {
        if (!env.distributed()) throw new IllegalArgumentException("a c10d collective needs WORLD_SIZE > 1");
        long t0 = System.nanoTime();
        int rank = env.rank(), world = env.worldSize();
        String where = env.masterAddr() + ":" + env.masterPort();
        List<Object> keep = new ArrayList<>();
        Store base = connect(env, s.storeTimeoutSeconds(), true, keep);
        Store mine = new PrefixStore("editr1", base);
        keep.add(mine);
        Liveness.Peer[] peers = join(env, mine, s.storeTimeoutSeconds());
        Store beats = new PrefixStore("editr1", connect(env, s.heartbeatTimeoutSeconds(), false, keep));
        keep.add(beats);
        Liveness live = new Liveness(beats, rank, world, s.heartbeatTimeoutSeconds(),
                where + (env.agentStorePrefix() != null ? " (torchrun's agent)" : " (hosted by rank 0)"),
                env.agentStorePrefix() != null ? -1 : 0,
                peers, env.launcherPid(), stop, keep);
        liveOut[0] = live;
        live.start();
        boolean cuda = device.is_cuda();
        org.bytedeco.pytorch.Backend pg;
        Store pgStore = new PrefixStore("pg", mine);
        keep.add(pgStore);
        try {
            if (cuda) pg = NcclGroup.create(pgStore, rank, world, s.timeoutSeconds());
            else {
                ProcessGroupGloo.Options go = ProcessGroupGloo.Options.create(ms(s.timeoutSeconds()));
                GlooDeviceVector devices = new GlooDeviceVector(glooDevice(env));
                go.devices(devices);
                go.threads(2);   // PyTorch's default: two buckets in flight at once
                keep.add(go);
                keep.add(devices);
                pg = new ProcessGroupGloo(pgStore, rank, world, go);
            }
        } catch (RuntimeException e) {
            String f = live.awaitFailure(500);
            live.close();
            throw new IllegalStateException("rank " + rank + " could not connect the " + (cuda ? "NCCL" : "Gloo")
                    + " process group: " + (f != null ? f : firstLine(e) + "; " + live.status()));
        }
        C10dCollective c = new C10dCollective(env, s, mine, pg, cuda ? device : Tensors.cpu(), cuda ? "nccl" : "gloo", live);
        c.keepAlive.addAll(keep);
        c.barrier("connect");
        log.printf(Locale.ROOT, "distributed: %s; %s on %s; joined in %.1f s (timeouts: collectives %.0f s, store %.0f s, "
                        + "heartbeat %.0f s)%n", env.describe(), c.backendName, Tensors.name(c.device), (System.nanoTime() - t0) / 1e9,
                s.timeoutSeconds(), s.storeTimeoutSeconds(), s.heartbeatTimeoutSeconds());
        return c;
    }

    /** The store: rank 0 hosts it (unless torchrun's agent does), the others connect, retrying until the timeout. */
    private static Store connect(DistEnv env, double timeoutSeconds, boolean main, List<Object> keep) {
        boolean server = main && env.hostsStore();
        TCPStoreOptions o = new TCPStoreOptions();
        o.port((short) env.masterPort());
        o.isServer(server);
        o.waitWorkers(false);
        o.timeout(ms(timeoutSeconds));
        String where = env.masterAddr() + ":" + env.masterPort();
        TCPStore tcp;
        try {
            tcp = new TCPStore(env.masterAddr(), o);
        } catch (RuntimeException e) {
            if (server)
                throw new IllegalStateException("rank 0 cannot host the store on " + where + ": " + firstLine(e)
                        + " (is MASTER_PORT taken by another run?)");
            throw new IllegalStateException(String.format(Locale.ROOT, "rank %d cannot reach the store at %s within %.0f s "
                            + "(distStoreTimeoutSeconds): %s — is %s running, and are MASTER_ADDR and MASTER_PORT the same on every rank?",
                    env.rank(), where, timeoutSeconds, firstLine(e), env.agentStorePrefix() != null ? "torchrun's agent" : "rank 0"));
        }
        keep.add(tcp);
        keep.add(o);
        if (env.agentStorePrefix() == null) return tcp;
        Store p = new PrefixStore(env.agentStorePrefix(), tcp);
        keep.add(p);
        return p;
    }

    /** Claims this rank, publishes who it is, and waits for every rank; returns their identities. */
    private static Liveness.Peer[] join(DistEnv env, Store s, double timeoutSeconds) {
        int rank = env.rank(), world = env.worldSize();
        Liveness.Peer me = Liveness.self();
        try {
            if (s.add("claim/" + rank, 1) > 1)
                throw new IllegalStateException("two processes were started as rank " + rank + " (RANK must differ between them)");
            s.set("hb/" + rank, "0|join|-1");
            s.set("meta/" + rank, world + "|" + me.encode());
        } catch (IllegalStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalStateException("rank " + rank + " lost the store while joining: " + firstLine(e));
        }
        List<String> keys = new ArrayList<>();
        for (int q = 0; q < world; q++) keys.add("meta/" + q);
        try {
            s._wait(new StringVector(keys.toArray(new String[0])), ms(timeoutSeconds));
        } catch (RuntimeException e) {
            List<Integer> missing = new ArrayList<>();
            try {
                for (int q = 0; q < world; q++) if (!s.check(new StringVector("meta/" + q))) missing.add(q);
            } catch (RuntimeException e2) {
                throw new IllegalStateException("rank " + rank + " lost the store while waiting for the other ranks: " + firstLine(e2));
            }
            if (missing.isEmpty()) throw new IllegalStateException("rank " + rank + " could not join: " + firstLine(e));
            throw new IllegalStateException(String.format(Locale.ROOT, "rank%s %s did not join within %.0f s "
                            + "(distStoreTimeoutSeconds); every rank must be started with WORLD_SIZE=%d and the same MASTER_ADDR:MASTER_PORT",
                    missing.size() == 1 ? "" : "s", missing.size() == 1 ? missing.get(0).toString() : missing.toString(), timeoutSeconds,
                    world));
        }
        Liveness.Peer[] peers = new Liveness.Peer[world];
        for (int q = 0; q < world; q++) {
            String m = s.get_to_str("meta/" + q);
            int bar = m.indexOf('|');
            int w = Integer.parseInt(m.substring(0, bar));
            if (w != world)
                throw new IllegalStateException("rank " + q + " was started with WORLD_SIZE=" + w + ", rank " + rank + " with " + world);
            peers[q] = Liveness.Peer.parse(m.substring(bar + 1));
        }
        return peers;
    }

    /** As PyTorch picks Gloo's interface: GLOO_SOCKET_IFNAME, loopback for a loopback master, else the host name's address. */
    private static org.bytedeco.pytorch.gloo.Device glooDevice(DistEnv env) {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) return ProcessGroupGloo.createDeviceForInterface(ifname.split(",")[0].trim());
        String a = env.masterAddr();
        if (a.equals("localhost") || a.startsWith("127.") || a.equals("::1"))
            return ProcessGroupGloo.createDeviceForHostname("127.0.0.1");
        return ProcessGroupGloo.createDefaultDevice();
    }

    // -------------------------------------------------------------------------------------------
    // the collectives

    @Override
    public int rank() {
        return env.rank();
    }

    @Override
    public int worldSize() {
        return env.worldSize();
    }

    /** gloo or nccl */
    public String backendName() {
        return backendName;
    }

    @Override
    public void phase(String name, int epoch) {
        this.phase = name;
        this.epoch = epoch;
        liveness.phase(name, epoch);
        fault.at(name, epoch);
    }

    /** Runs one collective operation under a sub-phase; a failure becomes a message naming the rank at fault. */
    private <T> T collective(String op, Supplier<T> body) {
        // the sub-phase goes out with the next beat, not at once: no store traffic per collective
        liveness.phase(phase + " > " + op, epoch, false);
        fault.at(op, epoch);
        try {
            return body.get();
        } catch (RuntimeException e) {
            throw broken(op, e);
        } finally {
            liveness.phase(phase, epoch, false);
        }
    }

    /**
     * A collective broke. If a peer died, its socket closed first: the watch names it within the
     * heartbeat timeout (at once on this machine) and stops this rank. If every rank still answers
     * (a timeout: a live rank never arrived), this rank stops, naming where each rank is.
     */
    private RuntimeException broken(String op, RuntimeException e) {
        String cause = firstLine(e);
        boolean timedOut = cause.contains("Timed out") || cause.contains("timed out") || cause.contains("Timeout");
        String f = timedOut ? liveness.failure() : liveness.awaitFailure((long) (settings.heartbeatTimeoutSeconds() * 1000) + 2000);
        if (f != null) liveness.awaitStopped();   // the watch decided: its stop ends the process (tests: it returns)
        else {
            f = String.format(Locale.ROOT, "%s in %s %s: %s; %s", op, Liveness.describePhase(phase + "|" + epoch),
                    timedOut ? String.format(Locale.ROOT, "timed out after %.0f s (distTimeoutSeconds)", settings.timeoutSeconds())
                            : "failed", cause, liveness.status());
            liveness.fail(f, true);   // with the default stop, this never returns
        }
        return new IllegalStateException(f, e);
    }

    private void await(Work w) {
        w._wait();
    }

    private void barrier(String what) {
        collective(what, () -> {
            Tensor one = torchOnes();
            await(pg.allreduce(new TensorVector(one), sum()));
            return null;
        });
    }

    @Override
    public double[][] gather(double[] local) {
        return collective("gather", () -> {
            int w = worldSize();
            Tensor n = longs(new long[] {local.length}), lens = longs(new long[w]);
            await(pg._allgather_base(lens, n, new AllgatherOptions()));
            long[] ls = toLongs(lens);
            int max = 0;
            for (long l : ls) max = (int) Math.max(max, l);
            double[][] out = new double[w][];
            if (max == 0) {
                for (int q = 0; q < w; q++) out[q] = new double[0];
                return out;
            }
            double[] padded = java.util.Arrays.copyOf(local, max);
            Tensor mine = doubles(padded), all = doubles(new double[w * max]);
            await(pg._allgather_base(all, mine, new AllgatherOptions()));
            double[] flat = toDoubles(all);
            for (int q = 0; q < w; q++) out[q] = java.util.Arrays.copyOfRange(flat, q * max, q * max + (int) ls[q]);
            return out;
        });
    }

    @Override
    public ReduceStats allReduceSum(List<Tensor> tensors, double weight) {
        // a one-element all-reduce first: the ranks meet, so the seconds below are the reduction's own
        long w0 = System.nanoTime();
        barrier("all-reduce (meet)");
        long t0 = System.nanoTime();
        List<Buckets.Span> spans = Buckets.plan(tensors, settings.bucketBytes());
        long bytes = 0;
        for (Buckets.Span s : spans) bytes += s.bytes();
        List<Tensor> flats = bucketBuffers(tensors, spans);
        collective("all-reduce", () -> {
            try (NoGradGuard g = new NoGradGuard()) {
                List<TensorVector> args = new ArrayList<>();   // referenced until every wait returned
                List<Work> works = new ArrayList<>();
                for (int i = 0; i < spans.size(); i++) {
                    Tensor flat = flats.get(i);
                    Buckets.pack(flat, tensors, spans.get(i));
                    if (weight != 1.0) flat.mul_(new Scalar(weight));
                    TensorVector v = new TensorVector(flat);
                    args.add(v);
                    works.add(pg.allreduce(v, sum()));
                }
                for (Work w : works) await(w);
                for (int i = 0; i < spans.size(); i++) Buckets.unpack(flats.get(i), tensors, spans.get(i));
            }
            return null;
        });
        return new ReduceStats(bytes, spans.size(), (System.nanoTime() - t0) / 1e9, (t0 - w0) / 1e9);
    }

    /** The flat buffers for these tensors' buckets: the previous ones when the tensors look the same, else new ones. */
    private List<Tensor> bucketBuffers(List<Tensor> tensors, List<Buckets.Span> spans) {
        String key = Buckets.signature(tensors, settings.bucketBytes());
        if (!key.equals(bucketKey)) {
            for (Tensor t : bucketFlats) t.releaseReference();
            List<Tensor> fresh = new ArrayList<>();
            for (Buckets.Span s : spans) {
                Tensor f = Buckets.allocate(tensors, s);
                f.retainReference();   // outlives the PointerScope of the epoch that made it
                fresh.add(f);
            }
            bucketFlats = fresh;
            bucketKey = key;
        }
        return bucketFlats;
    }

    @Override
    public void broadcast(List<Tensor> tensors) {
        List<Buckets.Span> spans = Buckets.plan(tensors, settings.bucketBytes());
        collective("broadcast", () -> {
            try (NoGradGuard g = new NoGradGuard()) {
                for (Buckets.Span s : spans) {
                    Tensor flat = Buckets.pack(tensors, s);
                    await(pg.broadcast(new TensorVector(flat), fromRank0()));
                    if (rank() != 0) Buckets.unpack(flat, tensors, s);
                }
            }
            return null;
        });
    }

    @Override
    public String broadcast(String text) {
        return collective("broadcast", () -> {
            byte[] b = rank() == 0 ? text.getBytes(StandardCharsets.UTF_8) : new byte[0];
            Tensor len = longs(new long[] {b.length});
            await(pg.broadcast(new TensorVector(len), fromRank0()));
            int n = (int) toLongs(len)[0];
            if (n == 0) return "";
            Tensor host = Tensors.empty(ScalarType.Byte, Tensors.cpu(), n);
            if (rank() == 0) new BytePointer(host.data_ptr()).put(b);
            Tensor t = device.is_cuda() ? host.to(device, ScalarType.Byte) : host;
            await(pg.broadcast(new TensorVector(t), fromRank0()));
            byte[] out = new byte[n];
            new BytePointer(t.to(Tensors.cpu(), ScalarType.Byte).contiguous().data_ptr()).get(out);
            return new String(out, StandardCharsets.UTF_8);
        });
    }

    @Override
    public void verifySame(String what, double[] values) {
        double[][] all = gather(values);
        List<String> bad = new ArrayList<>();
        for (int q = 1; q < all.length; q++) {
            double[] a = all[0], b = all[q];
            if (a.length != b.length) {
                bad.add("rank " + q + " has " + b.length + " values, rank 0 " + a.length);
                continue;
            }
            int diff = 0, first = -1;
            for (int i = 0; i < a.length; i++)
                if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
                    if (first < 0) first = i;
                    diff++;
                }
            if (diff > 0)
                bad.add(String.format(Locale.ROOT, "rank %d differs from rank 0 in %d of %d values (first: #%d, %s vs %s)", q, diff,
                        a.length, first, Double.toString(b[first]), Double.toString(a[first])));
        }
        if (!bad.isEmpty()) throw new IllegalStateException(what + " differs between ranks: " + String.join("; ", bad));
    }

    /**
     * This rank fails for its own reason (an exception of the run): says so to the other ranks, which
     * stop at once naming this rank and its phase, and stops watching them.
     */
    public void abort(Throwable e) {
        if (liveness.failure() == null) {   // else: already stopping because of another rank
            String m = e.getMessage() == null ? e.toString() : firstLine(e);
            liveness.stopWatching();   // the other ranks stop because of this one: no verdict about them now
            liveness.postExit(true, m);
            lingerForOthers(env, settings, liveness);
        }
        liveness.close();
    }

    /**
     * The end of a run: a last barrier (every rank is past its last collective), then the liveness
     * watch stops and rank 0 keeps the store up until every rank has let go of it.
     */
    @Override
    public void close() {
        phase("finish", epoch);
        liveness.stopWatching();   // from here a rank may exit as soon as the barrier completes
        barrier("finish");
        liveness.close();
        try {
            store.add("closed", 1);
            if (env.hostsStore()) {
                long end = System.nanoTime() + (long) (Math.min(10, settings.storeTimeoutSeconds()) * 1e9);
                while (store.add("closed", 0) < worldSize() && System.nanoTime() < end) Thread.sleep(20);
            }
        } catch (RuntimeException | InterruptedException e) {
            // the run is complete; a rank that let go of the store early changes nothing
        }
    }

    /**
     * A stopping rank that hosts the store keeps it up until every rank that may still be alive has
     * posted its own exit record (at most 1.5 heartbeat intervals + 0.3 s), so they read this rank's —
     * the rank and phase that failed — instead of finding only that the store is gone.
     */
    private static void lingerForOthers(DistEnv env, Settings s, Liveness live) {
        if (!env.hostsStore() || live == null) return;
        long end = System.nanoTime() + (Liveness.intervalMillis(s.heartbeatTimeoutSeconds()) * 3 / 2 + 300) * 1_000_000L;
        try {
            while (System.nanoTime() < end) {
                long exits = live.exits();
                if (exits >= 0 && exits - 1 >= live.othersMaybeAlive()) return;
                Thread.sleep(50);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // -------------------------------------------------------------------------------------------
    // small tensors on the group's device

    private static AllreduceOptions sum() {
        AllreduceOptions o = new AllreduceOptions();
        o.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
        return o;
    }

    private static BroadcastOptions fromRank0() {
        BroadcastOptions o = new BroadcastOptions();
        o.rootRank(0);
        o.rootTensor(0);
        return o;
    }

    private Tensor torchOnes() {
        return doubles(new double[] {1});
    }

    private Tensor longs(long[] v) {
        Tensor t = Tensors.empty(ScalarType.Long, Tensors.cpu(), v.length);
        if (v.length > 0) new LongPointer(t.data_ptr()).put(v);
        return device.is_cuda() ? t.to(device, ScalarType.Long) : t;
    }

    private Tensor doubles(double[] v) {
        Tensor t = Tensors.empty(ScalarType.Double, Tensors.cpu(), v.length);
        if (v.length > 0) new DoublePointer(t.data_ptr()).put(v);
        return device.is_cuda() ? t.to(device, ScalarType.Double) : t;
    }

    private static long[] toLongs(Tensor t) {
        Tensor c = t.to(Tensors.cpu(), ScalarType.Long).contiguous();
        long[] out = new long[(int) c.numel()];
        if (out.length > 0) new LongPointer(c.data_ptr()).get(out);
        return out;
    }

    private static double[] toDoubles(Tensor t) {
        Tensor c = t.to(Tensors.cpu(), ScalarType.Double).contiguous();
        double[] out = new double[(int) c.numel()];
        if (out.length > 0) new DoublePointer(c.data_ptr()).get(out);
        return out;
    }

    static Milliseconds ms(double seconds) {
        return new Milliseconds(Math.max(1, Math.round(seconds * 1000)));
    }

    /** An exception's message without libtorch's C++ backtrace (the first line, source location dropped). */
    static String firstLine(Throwable e) {
        String m = e.getMessage();
        if (m == null) return e.getClass().getSimpleName();
        int cut = m.indexOf("\nException raised from");
        if (cut >= 0) m = m.substring(0, cut);
        int nl = m.indexOf('\n');
        if (nl >= 0) m = m.substring(0, nl);
        m = m.replaceFirst("^\\[[^\\]]*\\.(cc|cpp|h|hpp):\\d+\\] ", "");
        return m.trim();
    }
}
