package dev.editr1.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;

/** Bucketing: order kept, a bucket closes once it reaches the size, a dtype change starts a new one, pack ∘ unpack = id. */
class BucketsTest {
    @Test
    void planPackUnpack() {
        Tensor a = Tensors.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);   // 24 bytes
        Tensor b = Tensors.fromFloats(new float[] {7}, 1);                      // 4
        Tensor c = Tensors.fromFloats(new float[] {8, 9}, 2);                   // 8
        Tensor d = Tensors.fromFloats(new float[] {10, 11}, 2).to(ScalarType.Double);   // 16, another dtype
        Tensor e = Tensors.fromFloats(new float[] {12}, 1);
        List<Tensor> ts = List.of(a, b, c, d, e);
        assertEquals(List.of(new Buckets.Span(0, 1, 24), new Buckets.Span(1, 3, 12), new Buckets.Span(3, 4, 16),
                new Buckets.Span(4, 5, 4)), Buckets.plan(ts, 12));
        assertEquals(List.of(new Buckets.Span(0, 3, 36), new Buckets.Span(3, 4, 16), new Buckets.Span(4, 5, 4)),
                Buckets.plan(ts, 1 << 20));
        Buckets.Span s = Buckets.plan(ts, 1 << 20).get(0);
        Tensor flat = Buckets.pack(ts, s);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, Tensors.toFloats(flat));
        flat.neg_();
        Buckets.unpack(flat, ts, s);
        assertArrayEquals(new float[] {-1, -2, -3, -4, -5, -6}, Tensors.toFloats(a));
        assertArrayEquals(new long[] {2, 3}, Tensors.shape(a));
        assertArrayEquals(new float[] {-7}, Tensors.toFloats(b));
        assertArrayEquals(new float[] {-8, -9}, Tensors.toFloats(c));
    }
}
