package dev.editr1.train;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

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
 * <p>Lifetimes: the side's work runs in a scope of its own; the tensors its result names are handed
 * to the caller's innermost scope by {@link Pending#join}. The tensors it reads must stay alive until
 * it is joined: a caller that fails before joining calls {@link Pending#abandon}, which waits.
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
            R r = Scopes.keep(body, survivors);
            return new Pending<>() {
                public R join() {
                    return r;
                }

                public void abandon(Throwable cause) {}   // owned by the caller's scope already
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
