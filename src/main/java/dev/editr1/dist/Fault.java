package dev.editr1.dist;

import java.util.Locale;

/**
 * Fault injection for the failure tests, off unless the system property {@code editr1.fault} is
 * set on a rank's JVM: {@code stall:<phase>:<epoch>:<seconds>} makes that rank sleep at the start
 * of the phase (a trainer phase such as {@code rollout}, or a collective: {@code gather},
 * {@code all-reduce}, {@code broadcast}) of that epoch (0-based), after printing
 * {@code editr1 fault: rank R stalls …} — so a test knows its peers now wait inside that
 * collective, and can kill one of them there. The heartbeat keeps going: a stalled rank is alive.
 */
final class Fault {
    private final int rank;
    private final String phase;
    private final int epoch;
    private final double seconds;

    private Fault(int rank, String phase, int epoch, double seconds) {
        this.rank = rank;
        this.phase = phase;
        this.epoch = epoch;
        this.seconds = seconds;
    }

    static Fault fromProperty(int rank) {
        String s = System.getProperty("editr1.fault");
        if (s == null || s.isBlank()) return new Fault(rank, null, -1, 0);
        String[] f = s.trim().split(":");
        if (f.length != 4 || !f[0].equals("stall"))
            throw new IllegalArgumentException("editr1.fault must be stall:<phase>:<epoch>:<seconds>, got '" + s + "'");
        return new Fault(rank, f[1], Integer.parseInt(f[2]), Double.parseDouble(f[3]));
    }

    void at(String name, int e) {
        if (phase == null || e != epoch || !phase.equals(name)) return;
        System.out.printf(Locale.ROOT, "editr1 fault: rank %d stalls %.0f s at the start of '%s' of epoch %d%n", rank, seconds, name,
                e + 1);
        System.out.flush();
        try {
            Thread.sleep((long) (seconds * 1000));
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }
}
