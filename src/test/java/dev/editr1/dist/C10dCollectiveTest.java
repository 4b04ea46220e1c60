package dev.editr1.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Backend;
import dev.editr1.kernels.Tensors;

/**
 * c10d from Java, two ranks as two threads of this JVM over loopback (Gloo's TCP transport, a real
 * TCPStore): every collective of {@link C10dCollective} against its definition, and the failures
 * that need no second process — a rank that never arrives, a store nobody hosts, a rank that never
 * joins. Killed and frozen processes are in DataParallelTest.
 */
class C10dCollectiveTest {
    static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

    static DistEnv env(int rank, int world, int port) {
        return new DistEnv(rank, world, rank, world, "127.0.0.1", port, null, -1);
    }

    static C10dCollective.Settings settings(double timeout, double storeTimeout, long bucketBytes) {
        return new C10dCollective.Settings(timeout, storeTimeout, 2, bucketBytes);
    }

    /** Runs body on ranks 0..n−1, each in its own thread with its own collective; returns their results. */
    static <T> List<T> ranks(int n, C10dCollective.Settings s, List<String> stops, BiFunction<Integer, C10dCollective, T> body)
            throws Exception {
        int port = Launcher.freePort();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    C10dCollective c = C10dCollective.open(env(rank, n, port), s, Tensors.cpu(), QUIET,
                            (String m) -> stops.add("rank " + rank + ": " + m));
                    return body.apply(rank, c);
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void gatherAllReduceBroadcastAndVerifyOnTwoRanks() throws Exception {
        List<String> stops = new CopyOnWriteArrayList<>();
        // 8-byte buckets: the three tensors (12, 16 and 4 bytes) travel in three buckets
        List<String> results = ranks(2, settings(20, 20, 8), stops, (rank, c) -> {
            // gather: lengths differ, NaN survives, an empty share is fine
            double[][] g = c.gather(rank == 0 ? new double[] {1, 2, Double.NaN} : new double[] {5});
            assertArrayEquals(new double[] {1, 2, Double.NaN}, g[0]);
            assertArrayEquals(new double[] {5}, g[1]);
            assertArrayEquals(new double[] {1, 2, Double.NaN, 5}, c.allGather(rank == 0 ? new double[] {1, 2, Double.NaN} : new double[] {5}));
            double[][] none = c.gather(new double[0]);
            assertEquals(0, none[0].length + none[1].length);
            // all-reduce: Σ_r w_r·t_r, in place, over several buckets
            Tensor a = Tensors.fromFloats(new float[] {rank + 1, 10 * (rank + 1), 3}, 3);
            Tensor b = Tensors.fromFloats(new float[] {1, 2, 3, 4}, 2, 2);
            Tensor d = Tensors.fromFloats(new float[] {rank}, 1);
            double w = rank == 0 ? 0.25 : 0.75;
            var stats = c.allReduceSum(List.of(a, b, d), w);
            assertArrayEquals(new float[] {0.25f * 1 + 0.75f * 2, 0.25f * 10 + 0.75f * 20, 3}, Tensors.toFloats(a), 1e-6f);
            assertArrayEquals(new float[] {1, 2, 3, 4}, Tensors.toFloats(b), 1e-6f);
            assertArrayEquals(new float[] {0.75f}, Tensors.toFloats(d), 1e-6f);
            assertEquals(8 * 4, stats.bytes());
            assertEquals(3, stats.buckets());
            // broadcast: rank 0's tensors and text everywhere
            Tensor x = Tensors.fromFloats(new float[] {rank, rank, rank, rank}, 2, 2);
            c.broadcast(List.of(x));
            assertArrayEquals(new float[] {0, 0, 0, 0}, Tensors.toFloats(x));
            assertEquals("rank 0's config: λ", c.broadcast(rank == 0 ? "rank 0's config: λ" : "ignored"));
            // verifySame: equal passes; a difference throws on every rank, naming the rank
            c.verifySame("checksum", new double[] {1.5, -0.0});
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> c.verifySame("the adapters' checksum", new double[] {1.5, rank == 1 ? Math.nextUp(2.0) : 2.0}));
            c.close();
            return e.getMessage();
        });
        for (String m : results)
            assertTrue(m.contains("the adapters' checksum differs between ranks: rank 1 differs from rank 0 in 1 of 2 values (first: #1"), m);
        assertTrue(stops.isEmpty(), "no rank was stopped: " + stops);
    }

    @Test
    void aRankThatNeverArrivesIsNamedWithItsPhase() throws Exception {
        List<String> stops = new CopyOnWriteArrayList<>();
        List<String> msgs = ranks(2, settings(2, 20, 1 << 20), stops, (rank, c) -> {
            c.phase(rank == 0 ? "advantages" : "rollout", 4);
            if (rank == 1) {
                // alive and beating, but busy elsewhere until rank 0 gave up
                long end = System.nanoTime() + 8_000_000_000L;
                while (stops.stream().noneMatch(s -> s.startsWith("rank 1")) && System.nanoTime() < end) sleep(50);
                c.abort(new RuntimeException("test over"));
                return "";
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.gather(new double[] {1}));
            sleep(1500);   // rank 1 reads the exit record before this rank lets go of the store
            c.abort(e);
            return e.getMessage();
        });
        String m = msgs.get(0);
        assertTrue(m.contains("gather in 'advantages' of epoch 5 timed out after 2 s (distTimeoutSeconds)"), m);
        assertTrue(m.contains("rank 1 (pid " + ProcessHandle.current().pid() + " on this machine) in 'rollout' of epoch 5"), m);
        assertTrue(stops.stream().anyMatch(s -> s.startsWith("rank 1: rank 0 (pid") && s.contains("failed in 'advantages > gather' of epoch 5")),
                "rank 1 learns that rank 0 stopped, and why: " + stops);
    }

    @Test
    void aStoreNobodyHostsIsReportedWithinTheStoreTimeout() {
        long t0 = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> C10dCollective.open(env(1, 2,
                Launcher.freePort()), settings(5, 1.5, 1 << 20), Tensors.cpu(), QUIET, m -> {}));
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getMessage().startsWith("rank 1 cannot reach the store at 127.0.0.1:") && e.getMessage().contains("within 2 s"),
                e.getMessage());
        assertTrue(s < 10, "gave up after " + s + " s");
    }

    @Test
    void aRankThatNeverJoinsIsNamed() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> C10dCollective.open(env(0, 3,
                Launcher.freePort()), settings(5, 1.5, 1 << 20), Tensors.cpu(), QUIET, m -> {}));
        assertTrue(e.getMessage().startsWith("ranks [1, 2] did not join within 2 s (distStoreTimeoutSeconds)"), e.getMessage());
    }

    @Test
    void ncclWithoutCudaNativesSaysSoInOneLine() {
        Assumptions.assumeFalse(Backend.probe().torchCuda, "libtorch has its CUDA natives here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NcclGroup.create(null, 0, 2, 5));
        assertTrue(e.getMessage().startsWith("NCCL is not available in this build: libtorch's CUDA natives are missing (build with -Pgpu"),
                e.getMessage());
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
