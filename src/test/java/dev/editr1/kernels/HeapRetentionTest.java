package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.BytePointer;
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

    /**
     * The C heap's two counts: what is in use follows an allocation and its free; what the heap
     * holds from the kernel includes the freed block while the heap is kept (SoakTest bounds the
     * RSS outside it). 8 MB is below the 32 MB mmap threshold, so the block comes from an arena;
     * other threads of the JVM allocate meanwhile, hence the 2 MB of slack.
     */
    @Test
    void heldIncludesWhatIsInUseAndWhatIsKept() {
        Editr1Native.load();
        long slack = 2L << 20, size = 8L << 20;
        long inUse0 = NativeMemory.inUse(), held0 = NativeMemory.heldOnCpu();
        assertTrue(inUse0 > 0 && held0 >= inUse0, "in use " + inUse0 + ", held " + held0);
        long inUse1, held1;
        try (BytePointer block = new BytePointer(size)) {
            block.fill(1);   // touched, as a tensor's output is
            inUse1 = NativeMemory.inUse();
            held1 = NativeMemory.heldOnCpu();
        }
        long inUse2 = NativeMemory.inUse(), held2 = NativeMemory.heldOnCpu();
        assertTrue(inUse1 - inUse0 >= size - slack, "in use rose by " + (inUse1 - inUse0));
        assertTrue(held1 >= inUse1 && held2 >= inUse2, "held below in use");
        assertTrue(inUse1 - inUse2 >= size - slack, "in use fell by " + (inUse1 - inUse2) + " after the free");
        if (HeapRetention.description().startsWith("keeps up to"))
            assertTrue(held1 - held2 < slack, "the kept heap handed back " + (held1 - held2) + " bytes");
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
