package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The C heap's retention setting (HeapRetention): read, checked, applied when libeditr1 loads and
 * said in words. What it buys is measured, not tested: page faults per call and ops/s of the
 * kernels under load (JMH, bench/RESULTS.md, "the C heap under load"); how often glibc's own
 * thresholds hand a block back depends on what the JVM's other threads allocate, so a fault count
 * in a unit test is not a stable assertion either way.
 */
class HeapRetentionTest {
    @Test
    void appliedOnceWhenTheLibraryLoads() {
        Editr1Native.load();
        String d = HeapRetention.description();
        if (HeapRetention.environmentTuning() != null) {
            assertTrue(d.contains("environment"), d);
            return;
        }
        long mb = HeapRetention.setting();
        if (mb == 0) assertTrue(d.contains("heapRetainMb=0"), d);
        else assertTrue(d.startsWith("keeps up to " + mb + " MB"), d);
        assertEquals(0, Editr1Native.editr1_retain_heap(0), "0 bytes changes nothing");
    }

    @Test
    void theSettingIsCheckedAndNamed() {
        String old = System.getProperty("editr1.heapRetainMb");
        try {
            System.setProperty("editr1.heapRetainMb", "lots");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, HeapRetention::setting);
            assertTrue(e.getMessage().contains("editr1.heapRetainMb") && e.getMessage().contains("lots"), e.getMessage());
            System.setProperty("editr1.heapRetainMb", "-1");
            assertThrows(IllegalArgumentException.class, HeapRetention::setting);
            System.setProperty("editr1.heapRetainMb", "4096");
            assertThrows(IllegalArgumentException.class, HeapRetention::setting);
            System.setProperty("editr1.heapRetainMb", " 64 ");
            assertEquals(64, HeapRetention.setting());
            System.setProperty("editr1.heapRetainMb", "0");
            assertEquals(0, HeapRetention.setting());
        } finally {
            if (old == null) System.clearProperty("editr1.heapRetainMb");
            else System.setProperty("editr1.heapRetainMb", old);
        }
    }
}
