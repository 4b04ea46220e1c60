package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;

/** The trainer's second thread: where work runs, who owns its tensors, and what a failure does. */
class SideThreadTest {
    @Test
    void workRunsBesideTheCallerWhileTwoCpusAreFreeAndItsTensorJoinsTheCallersScope() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            AtomicReference<Thread> ran = new AtomicReference<>();
            Tensor t;
            try (PointerScope scope = new PointerScope()) {
                SideThread.Pending<Tensor> p = side.submit(() -> {
                    ran.set(Thread.currentThread());
                    return Tensors.fromFloats(new float[] {1, 2, 3}, 3).mul(new org.bytedeco.pytorch.Scalar(2.0));
                }, x -> new Tensor[] {x});
                t = p.join();
                assertArrayEquals(new float[] {2, 4, 6}, Tensors.toFloats(t));
                assertEquals(1, t.referenceCount(), "owned by the caller's scope alone");
            }
            assertTrue(t.isNull(), "freed with the caller's scope");
            assertEquals("editr1-side", ran.get().getName());
            assertEquals(1, side.besideCount());
        }
    }

    @Test
    void workRunsInlineWhenOtherProcessesLeaveOneCpuOrWithOneThread() {
        for (SideThread side : new SideThread[] {SideThread.open(2, () -> 1), SideThread.open(1), SideThread.inline()})
            try (side) {
                assertFalse(side.concurrentNow());
                AtomicReference<Thread> ran = new AtomicReference<>();
                try (PointerScope scope = new PointerScope()) {
                    side.submit(() -> {
                        ran.set(Thread.currentThread());
                        return Tensors.fromFloats(new float[] {1}, 1);
                    }, x -> new Tensor[] {x}).join();
                }
                assertSame(Thread.currentThread(), ran.get());
                assertEquals(0, side.besideCount());
            }
        assertTrue(SideThread.open(2, () -> 0).concurrentNow(), "not sampled yet: beside");
        assertThrows(IllegalArgumentException.class, () -> SideThread.open(3));
    }

    @Test
    void anErrorOnTheSideReachesTheCaller() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            SideThread.Pending<Tensor> p = side.submit(() -> {
                throw new IllegalArgumentException("bad shape [3] on the side");
            }, x -> new Tensor[] {x});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, p::join);
            assertEquals("bad shape [3] on the side", e.getMessage());
        }
    }

    /** A caller that fails first waits for the side's work (it may read the caller's tensors), then frees its result. */
    @Test
    void abandonWaitsForTheSideAndFreesItsResult() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<Tensor> made = new AtomicReference<>();
            SideThread.Pending<Tensor> p = side.submit(() -> {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                made.set(Tensors.fromFloats(new float[] {1}, 1));
                done.set(true);
                return made.get();
            }, x -> new Tensor[] {x});
            RuntimeException cause = new RuntimeException("θ's forward failed");
            p.abandon(cause);
            assertTrue(done.get(), "abandon returned before the side's work ended");
            assertTrue(made.get().isNull(), "the side's result is freed");
            assertEquals(0, cause.getSuppressed().length);
        }
    }
}
