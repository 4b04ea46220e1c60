package dev.editr1.flow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** SPEC §2's check values. */
class SigmaScheduleTest {
    @Test
    void staticShiftSd3() {
        double[] s = SigmaSchedule.preset(SigmaSchedule.Preset.SD3, 10, 0, Double.NaN);
        assertArrayEquals(new double[] {1.0, 0.96013, 0.91335, 0.85769, 0.79037, 0.70728, 0.60215, 0.46488, 0.27805,
                0.00893, 0}, s, 5e-6);
    }

    @Test
    void dynamicShiftKontextAndQwen() {
        assertArrayEquals(new double[] {1, 0.90374, 0.78970, 0.65249, 0.48422, 0.27300, 0},
                SigmaSchedule.preset(SigmaSchedule.Preset.KONTEXT, 6, 1024, Double.NaN), 5e-6);
        double[] q = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, 6, 1024, Double.NaN);
        assertArrayEquals(new double[] {1, 0.86248, 0.70279, 0.51511, 0.29134, 0.02, 0}, q, 5e-6);
        assertEquals(0.02, q[5], 1e-12, "the terminal stretch lands exactly on τ");
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> SigmaSchedule.Preset.parse("flux2"));
        assertThrows(IllegalArgumentException.class, () -> SigmaSchedule.staticShift(0, 3));
        assertThrows(IllegalArgumentException.class, () -> SigmaSchedule.staticShift(5, -1));
    }
}
