package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
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

    /**
     * pipeline: slot i + 1's inputs are made and its side work started before slot i's backward (so
     * the side's forwards run beside it); each slot sees its own inputs and side result, owned by its
     * scope alone and freed with it.
     */
    @Test
    void pipelineStartsTheNextSlotBeforeThisSlotsBackward() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            List<Tensor> seen = new ArrayList<>();
            List<String> sideThreads = Collections.synchronizedList(new ArrayList<>());
            side.pipeline(3, i -> {
                log.add("inputs " + i);
                return Tensors.fromFloats(new float[] {i}, 1);
            }, x -> new Tensor[] {x}, x -> {
                sideThreads.add(Thread.currentThread().getName());
                return x.mul(new Scalar(10.0));
            }, y -> new Tensor[] {y}, (i, in, beside, ahead) -> {
                log.add("forward " + i);
                Tensor y = beside.get();
                assertEquals(10f * i, Tensors.toFloats(y)[0]);
                assertEquals(1, y.referenceCount(), "the side's result: owned by the slot's scope alone");
                assertEquals(1, in.referenceCount(), "the inputs: owned by the slot's scope alone");
                seen.add(in);
                seen.add(y);
                ahead.run();
                log.add("backward " + i);
            });
            assertEquals(List.of("inputs 0", "forward 0", "inputs 1", "backward 0", "forward 1", "inputs 2", "backward 1", "forward 2", "backward 2"), log);
            assertEquals(List.of("editr1-side", "editr1-side", "editr1-side"), sideThreads);
            for (Tensor t : seen) assertTrue(t.isNull(), "freed with its slot's scope");
        }
    }

    /** Inline (one thread, or a busy machine): each slot's side work runs at its start, after the previous backward, as before the pipeline existed. */
    @Test
    void pipelineInlineKeepsTheSlotsApart() {
        try (SideThread side = SideThread.open(2, () -> 1)) {
            List<String> log = new ArrayList<>();
            side.pipeline(2, i -> {
                log.add("inputs " + i);
                return Tensors.fromFloats(new float[] {i}, 1);
            }, x -> new Tensor[] {x}, x -> {
                log.add("side " + (int) Tensors.toFloats(x)[0]);
                return x.mul(new Scalar(10.0));
            }, y -> new Tensor[] {y}, (i, in, beside, ahead) -> {
                log.add("forward " + i);
                beside.get();
                ahead.run();
                log.add("backward " + i);
            });
            assertEquals(List.of("inputs 0", "side 0", "forward 0", "backward 0", "inputs 1", "side 1", "forward 1", "backward 1"), log);
            assertEquals(0, side.besideCount());
        }
    }

    /** A slot that fails after starting the next one waits for the next one's side work, then frees its inputs and result. */
    @Test
    void aFailingSlotWaitsForTheNextSlotsSideWorkAndFreesIt() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            AtomicReference<Tensor> nextIn = new AtomicReference<>(), nextOut = new AtomicReference<>();
            AtomicBoolean sideDone = new AtomicBoolean();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> side.pipeline(2, i -> {
                Tensor t = Tensors.fromFloats(new float[] {i}, 1);
                if (i == 1) nextIn.set(t);
                return t;
            }, x -> new Tensor[] {x}, x -> {
                if (Tensors.toFloats(x)[0] == 0) return x.mul(new Scalar(2.0));
                try {
                    Thread.sleep(200);
                } catch (InterruptedException ie) {
                    throw new IllegalStateException(ie);
                }
                nextOut.set(x.mul(new Scalar(2.0)));
                sideDone.set(true);
                return nextOut.get();
            }, y -> new Tensor[] {y}, (i, in, beside, ahead) -> {
                beside.get();
                ahead.run();
                throw new IllegalStateException("slot " + i + "'s backward failed");
            }));
            assertEquals("slot 0's backward failed", e.getMessage());
            assertTrue(sideDone.get(), "returned before the next slot's side work ended");
            assertTrue(nextIn.get().isNull(), "the next slot's inputs are freed");
            assertTrue(nextOut.get().isNull(), "the next slot's side result is freed");
            assertEquals(0, e.getSuppressed().length);
        }
    }

    /** A side error seen when the slot joins reaches the caller once, with nothing suppressed (it is not abandoned again). */
    @Test
    void aSideErrorReachesThePipelinesCaller() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> side.<Tensor, Tensor>pipeline(2,
                    i -> Tensors.fromFloats(new float[] {i}, 1), x -> new Tensor[] {x}, x -> {
                        throw new IllegalArgumentException("bad shape on the side");
                    }, y -> new Tensor[] {y}, (i, in, beside, ahead) -> beside.get()));
            assertEquals("bad shape on the side", e.getMessage());
            assertEquals(0, e.getSuppressed().length);
        }
    }

    /** The calling thread's time splits at each slot's ahead call: before it forward, after it backward. */
    @Test
    void pipelineSplitsEachSlotsTimeAtItsAheadCall() {
        try (SideThread side = SideThread.open(2, () -> 2)) {
            SideThread.Seconds sec = side.pipeline(2, i -> Tensors.fromFloats(new float[] {i}, 1), x -> new Tensor[] {x},
                    x -> x.mul(new Scalar(2.0)), y -> new Tensor[] {y}, (i, in, beside, ahead) -> {
                        beside.get();
                        sleep(30);
                        ahead.run();
                        sleep(80);
                    });
            assertTrue(sec.forward() >= 0.06 && sec.forward() < sec.backward(), "forward " + sec.forward() + " s, backward " + sec.backward() + " s");
            assertTrue(sec.backward() >= 0.16, "backward " + sec.backward() + " s");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
