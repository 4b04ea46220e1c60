package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Editr1Native;
import dev.editr1.kernels.Scopes;

/**
 * The trainer's second thread on the CPU ({@code forwardThreads = 2}): work that does not depend on
 * what the trainer's thread is computing — the old and reference forwards beside θ's, one rollout
 * chunk beside the next — runs on it at the same time. libtorch runs the tiny model's ops on one
 * thread each (its per-op overhead makes intra-op threads slower there, and OpenBLAS's sums depend on
 * its thread count, so it is fixed at 1), which leaves the second core idle; this uses it without
 * changing a single operation: each forward computes exactly what it computes alone, so a run's
 * metrics are bit for bit those of {@code forwardThreads = 1} (TrainerTest). Nothing waits by
 * spinning: beside a busy process the two threads share the free core like any two threads.
 *
 * <p>With {@code forwardThreads = 1} (and on CUDA, where ops queue on one stream anyway) {@link #submit}
 * runs the work at once on the calling thread, as the code did before it existed.
 *
 * <p>Lifetimes: the side's work runs in a scope of its own (inline too); the tensors its result names
 * are handed to the caller's innermost scope by {@link Pending#join}. The tensors it reads must stay
 * alive until it is joined: a caller that fails before joining calls {@link Pending#abandon}, which
 * waits and frees the result.
 *
 * <p>{@link #pipeline} runs a loss phase's slots (timestep slots, trained steps) so that the side's
 * work for the next slot — its no-grad forwards, which do not depend on θ — runs beside this slot's
 * backward, the stretch in which the second thread was otherwise idle.
 */
public final class SideThread implements AutoCloseable {
    private final ExecutorService exec;   // null: inline
    private final IntSupplier spare;      // CPUs other processes leave us (0: unknown)
    private final AtomicLong beside = new AtomicLong();

    private SideThread(ExecutorService exec, IntSupplier spare) {
        this.exec = exec;
        this.spare = spare;
    }

    private static final SideThread INLINE = new SideThread(null, () -> 0);

    /** Work runs at once on the calling thread. */
    public static SideThread inline() {
        return INLINE;
    }

    /** How many threads the trainer's own work gets, and why (the run log and {@code doctor} say both). */
    public record Choice(int threads, String reason) {}

    /**
     * The {@code forwardThreads} setting resolved: itself when it is 1 or 2; when 0, 2 on a CPU
     * device whose process may run on at least 2 CPUs (the second core is otherwise idle beside
     * libtorch's one thread) and 1 on CUDA (the forwards queue on one stream there anyway).
     */
    public static Choice choose(int forwardThreads, boolean cpuDevice) {
        if (forwardThreads > 0) return new Choice(forwardThreads, "forwardThreads=" + forwardThreads);
        if (!cpuDevice) return new Choice(1, "automatic: CUDA");
        int cpus = Runtime.getRuntime().availableProcessors();
        return new Choice(cpus >= 2 ? 2 : 1, "automatic: " + cpus + (cpus == 1 ? " CPU" : " CPUs") + " to run on");
    }

    /** 1: {@link #inline}; 2: one daemon thread beside the caller's, used while the CPU pool sees 2 CPUs free. */
    public static SideThread open(int threads) {
        return open(threads, SideThread::poolSpare);
    }

    /** {@link #open(int)} with the free CPUs read from {@code spare} (tests). */
    static SideThread open(int threads, IntSupplier spare) {
        if (threads != 1 && threads != 2) throw new IllegalArgumentException("forwardThreads must be 1 or 2 (got " + threads + ")");
        if (threads == 1) return INLINE;
        // one thread that ends after 10 s idle, so a context nobody closes (a test, a benchmark) leaves none behind
        ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "editr1-side");
            t.setDaemon(true);
            return t;
        });
        e.allowCoreThreadTimeOut(true);
        return new SideThread(e, spare);
    }

    /** Whether this has a second thread (forwardThreads 2). */
    public boolean concurrent() {
        return exec != null;
    }

    /**
     * Whether work submitted now runs beside the caller: there is a second thread and, at the CPU
     * pool's last load sample, other processes left at least 2 CPUs (or it has not sampled yet).
     * Beside a busy process on 2 CPUs the two threads would share one core, which measured 4–10%
     * slower than one thread (bench/RESULTS.md), so the work then runs inline. Either way every
     * forward computes the same bits.
     */
    public boolean concurrentNow() {
        if (exec == null) return false;
        int s = spare.getAsInt();
        return s == 0 || s >= 2;
    }

    private static int poolSpare() {
        try {
            return Editr1Native.editr1_cpu_pool_spare();
        } catch (LinkageError e) {
            return 0;
        }
    }

    /** Work on its way; {@link #join} returns its result, the tensors it names owned by the joiner's scope. */
    public interface Pending<R> {
        R join();

        /** Waits for the work after the caller failed (its error wins; the side's is added as suppressed); frees the result. */
        void abandon(Throwable cause);
    }

    /**
     * Starts {@code body} on the side thread (inline unless {@link #concurrentNow}); the tensors
     * {@code survivors} names in its result are the ones that outlive it.
     */
    public <R> Pending<R> submit(Supplier<R> body, Function<R, Tensor[]> survivors) {
        if (!concurrentNow()) {
            // made now, owned by no scope until joined: the same ownership as work that ran beside,
            // so a caller may submit in one scope and join in the next (pipeline)
            R r = Scopes.detach(body, survivors);
            return new Pending<>() {
                public R join() {
                    Scopes.adopt(survivors.apply(r));
                    return r;
                }

                public void abandon(Throwable cause) {
                    Scopes.release(survivors.apply(r));
                }
            };
        }
        beside.incrementAndGet();
        Future<R> f = exec.submit(() -> Scopes.detach(body, survivors));
        return new Pending<>() {
            public R join() {
                R r = get(f);
                Scopes.adopt(survivors.apply(r));
                return r;
            }

            public void abandon(Throwable cause) {
                try {
                    Scopes.release(survivors.apply(get(f)));
                } catch (RuntimeException | Error e) {
                    cause.addSuppressed(e);
                }
            }
        };
    }

    /** One slot of a {@link #pipeline}, on the calling thread. */
    public interface Slot<I, P> {
        /**
         * Slot i: θ's forward on {@code in}; then {@code beside.get()}, the side's result for this slot
         * (its tensors join this slot's scope: call it in that scope, not a nested one); the loss;
         * {@code ahead.run()}, which starts the next slot (its inputs on this thread, its side work on
         * the second) when the second thread is free to take it; then the backward.
         */
        void run(int i, I in, Supplier<P> beside, Runnable ahead);
    }

    private record Started<I, P>(I in, Pending<P> work) {}

    /**
     * Where a {@link #pipeline}'s wall time went on the calling thread: forward, from the previous
     * slot's end (or the pipeline's start) to the end of the slot's {@code ahead} call — its inputs,
     * any inline side work, θ's forward, the wait for the side, the loss and the next slot's start —
     * and backward, from there to the slot's end (all of a slot that never calls {@code ahead} is forward).
     */
    public record Seconds(double forward, double backward) {}

    /**
     * Runs slots 0 … count − 1 on the calling thread, each in its own scope. Slot i's inputs are made
     * on the calling thread by {@code inputs} (the tensors {@code inputTensors} names outlive the call);
     * the work that does not depend on θ, {@code side} (the no-grad forwards; null: none), runs on the
     * second thread: slot 0's beside its own θ forward, every later slot's beside the previous slot's
     * backward when the slot calls {@code ahead} while {@link #concurrentNow} — otherwise at the start
     * of its slot, inline or beside θ's forward, as {@link #submit} decides. Every slot computes what
     * it computes alone, in the same order on each thread, so the result does not depend on where the
     * side's work ran. A failing slot waits for the side's work and frees what it made.
     */
    public <I, P> Seconds pipeline(int count, IntFunction<I> inputs, Function<I, Tensor[]> inputTensors,
                                   Function<I, P> side, Function<P, Tensor[]> sideTensors, Slot<I, P> slot) {
        Started<I, P> next = null;
        long last = System.nanoTime(), forward = 0, backward = 0;
        for (int i = 0; i < count; i++)
            try (PointerScope scope = new PointerScope()) {
                Started<I, P> cur = next != null ? next : start(i, inputs, inputTensors, side, sideTensors);
                next = null;
                Scopes.adopt(inputTensors.apply(cur.in()));   // this slot's now
                boolean[] joined = {cur.work() == null};
                List<Started<I, P>> ahead = new ArrayList<>(1);
                long[] split = {0};   // when the slot's ahead call ended: its forward's end
                int s = i;
                try {
                    slot.run(s, cur.in(), () -> {
                        joined[0] = true;
                        return cur.work() == null ? null : cur.work().join();
                    }, () -> {
                        if (s + 1 < count && ahead.isEmpty() && concurrentNow())
                            ahead.add(start(s + 1, inputs, inputTensors, side, sideTensors));
                        split[0] = System.nanoTime();
                    });
                } catch (RuntimeException | Error e) {
                    if (!joined[0]) cur.work().abandon(e);
                    for (Started<I, P> a : ahead) {
                        if (a.work() != null) a.work().abandon(e);
                        Scopes.release(inputTensors.apply(a.in()));
                    }
                    throw e;
                }
                next = ahead.isEmpty() ? null : ahead.get(0);
                long end = System.nanoTime(), mid = split[0] == 0 ? end : split[0];
                forward += mid - last;
                backward += end - mid;
                last = end;   // this slot's scope closes in the next slot's forward
            }
        return new Seconds(forward / 1e9, backward / 1e9);
    }

    /** Slot i's inputs (owned by no scope until its slot adopts them) and its side work, started. */
    private <I, P> Started<I, P> start(int i, IntFunction<I> inputs, Function<I, Tensor[]> inputTensors,
                                       Function<I, P> side, Function<P, Tensor[]> sideTensors) {
        I in = Scopes.detach(() -> inputs.apply(i), inputTensors);
        if (side == null) return new Started<>(in, null);
        try {
            return new Started<>(in, submit(() -> side.apply(in), sideTensors));
        } catch (RuntimeException | Error e) {
            Scopes.release(inputTensors.apply(in));
            throw e;
        }
    }

    /** How many submissions ran beside the caller so far. */
    long besideCount() {
        return beside.get();
    }

    private static <R> R get(Future<R> f) {
        boolean interrupted = false;
        try {
            while (true)
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;   // the side's work reads our tensors: never leave before it ends
                }
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error er) throw er;
            throw new IllegalStateException(c);
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (exec != null) exec.shutdownNow();
    }
}
