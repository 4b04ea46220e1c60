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
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HeapRetention.parse("lots"));
        assertTrue(e.getMessage().contains("editr1.heapRetainMb") && e.getMessage().contains("lots"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HeapRetention.parse("-1"));
        assertThrows(IllegalArgumentException.class, () -> HeapRetention.parse("4096"));
        assertThrows(IllegalArgumentException.class, () -> HeapRetention.parse("1.5"));
        assertEquals(64, HeapRetention.parse(" 64 "));
        assertEquals(0, HeapRetention.parse("0"));
        assertEquals(HeapRetention.DEFAULT_MB, HeapRetention.parse(null));
        assertEquals(HeapRetention.DEFAULT_MB, HeapRetention.parse(" "));
    }
}
