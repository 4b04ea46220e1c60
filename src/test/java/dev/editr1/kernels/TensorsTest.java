package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;

/** {@link Tensors#owned}: the parts of a chunk outlive the vector libtorch returned them in. */
class TensorsTest {
    @Test
    void ownedPartsOutliveTheirVector() {
        Tensor x = Tensors.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        TensorVector v = x.chunk(3, 0);
        Tensor[] parts = Tensors.owned(v);
        // what the GC does to an unreachable vector: its at::Tensors are destroyed. A handle from
        // v.get(i) would now point at freed memory; the owned parts hold their own references.
        v.close();
        x.close();
        assertEquals(3, parts.length);
        assertArrayEquals(new float[] {1, 2}, Tensors.toFloats(parts[0]));
        assertArrayEquals(new float[] {3, 4}, Tensors.toFloats(parts[1]));
        assertArrayEquals(new float[] {5, 6}, Tensors.toFloats(parts[2]));
        assertArrayEquals(new long[] {1, 2}, Tensors.shape(parts[2]));
    }
}
