package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Test hooks for the reliability campaign, off unless the system property {@code editr1.inject} is
 * set (a comma-separated list; nothing here runs in a normal run):
 * <ul>
 *   <li>{@code halt-in-checkpoint:E} — the process halts (exit 137, as SIGKILL) in the middle of
 *       writing the checkpoint after epoch E (1-based), with some of its files written: the
 *       deterministic form of "killed while writing a checkpoint";</li>
 *   <li>{@code nan-grad:E[:N]} — θ's gradient is replaced by NaN before the optimizer step of
 *       epochs E .. E+N−1 (1-based; N = 1 by default): a non-finite step to be skipped.</li>
 * </ul>
 */
final class Inject {
    private record Fault(String kind, int epoch, int count) {
        boolean at(String k, int oneBasedEpoch) {
            return kind.equals(k) && oneBasedEpoch >= epoch && oneBasedEpoch < epoch + count;
        }
    }

    private Inject() {}

    static List<Fault> parse(String s) {
        List<Fault> out = new ArrayList<>();
        if (s == null || s.isBlank()) return out;
        for (String part : s.split(",")) {
            String[] f = part.trim().split(":");
            if (f.length < 2 || f.length > 3 || !(f[0].equals("halt-in-checkpoint") || f[0].equals("nan-grad")))
                throw new IllegalArgumentException("editr1.inject: expected halt-in-checkpoint:E or nan-grad:E[:N], got '" + part + "'");
            out.add(new Fault(f[0], Integer.parseInt(f[1]), f.length == 3 ? Integer.parseInt(f[2]) : 1));
        }
        return out;
    }

    /** Whether fault {@code kind} is set for (1-based) epoch {@code epoch}. */
    static boolean at(String kind, int epoch) {
        // read each time (once per epoch at most): in-process tests set and clear the property
        for (Fault f : parse(System.getProperty("editr1.inject"))) if (f.at(kind, epoch)) return true;
        return false;
    }

    /** Halts the JVM at once (no shutdown hooks, no flushing): what SIGKILL does to a run. */
    static void haltIf(String kind, int epoch) {
        if (at(kind, epoch)) {
            System.err.println("editr1 inject: " + kind + " after epoch " + epoch + ": halting");
            System.err.flush();
            Runtime.getRuntime().halt(137);
        }
    }
}
