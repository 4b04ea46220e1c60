package dev.editr1.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.StringVector;

/**
 * Who is alive, and where each rank is: heartbeats in the store, so that when a rank dies, hangs or
 * loses the store, every other rank stops within a bounded time with a message that names the
 * rank and its phase — instead of waiting forever inside a collective.
 *
 * <p>Keys (under the run's store prefix): {@code hb/<r>} = {@code "<beat>|<phase>|<epoch>"},
 * rewritten every interval and at once on each phase change; {@code exit/<r>} =
 * {@code "own|peer" | phase | epoch | message} when a rank stops (own: it failed; peer: it stops
 * because of another rank), counted in {@code exits}. Two daemon threads:
 * <ul>
 *   <li>the <b>beat</b> thread does all store traffic on its own connection (so a blocked store call
 *       of the main thread cannot silence it): writes this rank's beat, reads the others', reads exit
 *       records when {@code exits} moved;</li>
 *   <li>the <b>watch</b> thread only compares clocks and asks the OS, never blocks: a rank on this
 *       machine whose process is gone is dead at once (one check per 100 ms); a rank whose beat did
 *       not change for {@code timeout} is dead (frozen, or its machine or network is gone); a store
 *       that has not answered for {@code timeout} is gone (and with it rank 0, when rank 0 hosts it);
 *       an exit record stops this rank at once, naming the rank that failed first.</li>
 * </ul>
 * Staleness is measured on the reader's clock (when a beat last changed), so clocks of different
 * machines never meet. A rank that posted the phase {@code done} is finished and no longer watched.
 */
final class Liveness implements AutoCloseable {
    /** What to do when a failure is decided: print and stop the process (tests record instead). */
    interface Stop {
        void stop(String message);
    }

    /** A peer's identity, published when it joins: same machine (boot id and pid namespace) and pid. */
    record Peer(String machine, long pid, String host) {
        static Peer parse(String s) {
            String[] f = s.split("\\|", -1);
            return new Peer(f[0], Long.parseLong(f[1]), f[2]);
        }

        String encode() {
            return machine + "|" + pid + "|" + host;
        }
    }

    private final Store store;
    private final List<Object> keepAlive;   // the native layers under store (see C10dCollective)
    private final int rank, world;
    private final long intervalNanos, timeoutNanos;
    private final String storeWhere;
    private final int storeHostRank;
    private final Peer[] peers;
    private final long launcherPid;
    private final Stop stop;
    private final ReentrantLock storeLock = new ReentrantLock();
    private final AtomicBoolean decided = new AtomicBoolean();

    private volatile String phase = "start";
    private volatile int epoch = -1;
    private volatile boolean running = true;
    private volatile long storeOkAt;
    private volatile String storeError;
    private volatile String failure;
    private volatile boolean stopped;
    private final String[] lastBeat;                      // beat thread only
    private final AtomicLongArray heardAt;                // when each rank's beat last changed (reader's clock)
    private final AtomicReferenceArray<String> peerPhase; // "<phase>|<epoch>" from each rank's last beat
    private final AtomicReferenceArray<String> exitRecord;
    private long seenExits;
    private long beat;
    private Thread beatThread, watchThread;

    /**
     * @param store         a connection of its own to the run's store (used by the beat thread only)
     * @param storeWhere    the store's address in words, for messages
     * @param storeHostRank the rank that hosts the store (0), or −1 when torchrun's agent does
     * @param peers         every rank's identity (from the join), this rank's included
     * @param launcherPid   a launcher process whose end stops this rank, or −1
     * @param keepAlive     the native objects under {@code store}, referenced as long as the threads run
     */
    Liveness(Store store, int rank, int world, double timeoutSeconds, String storeWhere, int storeHostRank, Peer[] peers,
             long launcherPid, Stop stop, List<Object> keepAlive) {
        this.store = store;
        this.keepAlive = List.copyOf(keepAlive);
        this.rank = rank;
        this.world = world;
        this.timeoutNanos = (long) (timeoutSeconds * 1e9);
        this.intervalNanos = intervalMillis(timeoutSeconds) * 1_000_000L;
        this.storeWhere = storeWhere;
        this.storeHostRank = storeHostRank;
        this.peers = peers.clone();
        this.launcherPid = launcherPid;
        this.stop = stop;
        lastBeat = new String[world];
        heardAt = new AtomicLongArray(world);
        peerPhase = new AtomicReferenceArray<>(world);
        exitRecord = new AtomicReferenceArray<>(world);
    }

    /** The beat interval for a timeout: a tenth of it, within [50 ms, 1 s]. */
    static long intervalMillis(double timeoutSeconds) {
        return Math.max(50, Math.min(1000, (long) (timeoutSeconds * 100)));
    }

    /** This process's identity: the machine (boot id + pid namespace, so containers differ), pid, host name. */
    static Peer self() {
        String boot = read("/proc/sys/kernel/random/boot_id"), host = read("/proc/sys/kernel/hostname");
        String ns;
        try {
            ns = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            ns = "?";
        }
        return new Peer((boot.isEmpty() ? host : boot) + "/" + ns, ProcessHandle.current().pid(), host.isEmpty() ? "?" : host);
    }

    private static String read(String file) {
        try {
            return Files.readString(Path.of(file)).trim().replace('|', '/');
        } catch (IOException e) {
            return "";
        }
    }

    /** Starts the two threads (after the join: every peer is known). */
    void start() {
        long now = System.nanoTime();
        for (int q = 0; q < world; q++) heardAt.set(q, now);
        storeOkAt = now;
        beatThread = new Thread(this::beatLoop, "editr1-heartbeat-" + rank);
        watchThread = new Thread(this::watchLoop, "editr1-watchdog-" + rank);
        beatThread.setDaemon(true);
        watchThread.setDaemon(true);
        beatThread.start();
        watchThread.start();
    }

    /** This rank's phase (shown by other ranks if this one stops); published at once. */
    void phase(String name, int epoch) {
        phase(name, epoch, true);
    }

    /**
     * This rank's phase; {@code now}: published at once (one store {@code set}), else with the next
     * beat (within an interval) — for a collective's sub-phase, which most often lasts less.
     */
    void phase(String name, int epoch, boolean now) {
        this.phase = name.replace('|', '/');
        this.epoch = epoch;
        Thread t = beatThread;
        if (now && t != null) LockSupport.unpark(t);
    }

    String phase() {
        return phase;
    }

    int epoch() {
        return epoch;
    }

    /** A rank's phase in words: "'rollout' of epoch 3", from its last heartbeat. */
    String where(int q) {
        String p = q == rank ? phase + "|" + epoch : peerPhase.get(q);
        if (p == null) return "an unknown phase (no heartbeat received)";
        return describePhase(p);
    }

    static String describePhase(String phaseAndEpoch) {
        int bar = phaseAndEpoch.lastIndexOf('|');
        String name = bar < 0 ? phaseAndEpoch : phaseAndEpoch.substring(0, bar);
        int e = bar < 0 ? -1 : Integer.parseInt(phaseAndEpoch.substring(bar + 1));
        return "'" + name + "'" + (e >= 0 ? " of epoch " + (e + 1) : "");
    }

    /** A rank in words: "rank 1 (pid 4242 on this machine)". */
    String name(int q) {
        Peer p = peers[q];
        if (p == null) return "rank " + q;
        boolean local = p.machine().equals(peers[rank].machine());
        return "rank " + q + " (pid " + p.pid() + (local ? " on this machine" : " on " + p.host()) + ")";
    }

    /** Every other rank's state, for a message when a collective failed and no rank is known dead. */
    String status() {
        StringBuilder b = new StringBuilder();
        long now = System.nanoTime();
        for (int q = 0; q < world; q++) {
            if (q == rank) continue;
            if (b.length() > 0) b.append("; ");
            b.append(name(q)).append(" in ").append(where(q)).append(String.format(Locale.ROOT, ", heard from %.1f s ago",
                    (now - heardAt.get(q)) / 1e9));
        }
        return b.toString();
    }

    /** The decided failure, or null. */
    String failure() {
        return failure;
    }

    /**
     * Waits up to {@code millis} for the watch thread to decide who failed (a collective just broke:
     * the culprit's process may still be exiting, or its beat not yet stale); returns the message or
     * null. With the default stop, a decision ends the process before this returns.
     */
    String awaitFailure(long millis) {
        long end = System.nanoTime() + millis * 1_000_000L;
        while (failure == null && System.nanoTime() < end) LockSupport.parkNanos(20_000_000L);
        return failure;
    }

    /** Decides a failure once (later calls return false) and runs the stop action. */
    boolean fail(String message, boolean own) {
        if (!decided.compareAndSet(false, true)) return false;
        failure = message;
        postExit(own, message);
        try {
            stop.stop(message);
        } finally {
            stopped = true;
        }
        return true;
    }

    /**
     * Waits until the stop action of a decided failure has run (the default one halts the process,
     * so this never returns there; a recording one returns at once).
     */
    void awaitStopped() {
        while (failure != null && !stopped) LockSupport.parkNanos(10_000_000L);
    }

    /** Publishes this rank's exit record (best effort: the store may be gone). */
    void postExit(boolean own, String message) {
        try {
            if (!storeLock.tryLock(Math.max(200, intervalNanos / 1_000_000L * 2), TimeUnit.MILLISECONDS)) return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            store.set("exit/" + rank, (own ? "own" : "peer") + "|" + phase + "|" + epoch + "|" + message.replace('\n', ' '));
            store.add("exits", 1);
        } catch (RuntimeException e) {
            // the store is gone: the other ranks find out by themselves
        } finally {
            storeLock.unlock();
        }
    }

    /** How many ranks have posted an exit record (best effort, −1 when the store does not answer). */
    long exits() {
        try {
            if (!storeLock.tryLock(200, TimeUnit.MILLISECONDS)) return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
        try {
            return store.add("exits", 0);
        } catch (RuntimeException e) {
            return -1;
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Stops judging the other ranks (they may exit from now on) but keeps this rank's beat going, so
     * ranks that still watch see it alive.
     */
    void stopWatching() {
        decided.set(true);
        Thread t = watchThread;
        if (t != null) LockSupport.unpark(t);
    }

    /** Stops watching (the run is over, or this rank is stopping for its own reason). */
    @Override
    public void close() {
        running = false;
        decided.set(true);
        for (Thread t : new Thread[] {beatThread, watchThread})
            if (t != null) LockSupport.unpark(t);
    }

    // ------------------------------------------------------------------------------------------

    /**
     * Every interval a full round (this rank's beat, the others' beats, the exit count); between
     * rounds, a phase change of this rank is published at once with one {@code set} (a collective
     * enters and leaves a sub-phase, so ranks × collectives × (W − 1) reads would be too many).
     */
    private void beatLoop() {
        long nextRound = 0;
        String published = null;
        while (running) {
            long now = System.nanoTime();
            String mine = phase + "|" + epoch;
            boolean round = now - nextRound >= 0;
            if (!round && mine.equals(published)) {
                LockSupport.parkNanos(nextRound - now);
                continue;
            }
            storeLock.lock();
            try {
                beat++;
                store.set("hb/" + rank, beat + "|" + mine);
                published = mine;
                if (!round) continue;
                nextRound = now + intervalNanos;
                for (int q = 0; q < world; q++) {
                    if (q == rank) continue;
                    String v = store.get_to_str("hb/" + q);
                    if (!v.equals(lastBeat[q])) {
                        lastBeat[q] = v;
                        heardAt.set(q, now);
                        int bar = v.indexOf('|');
                        peerPhase.set(q, bar < 0 ? null : v.substring(bar + 1));
                    }
                }
                long exits = store.add("exits", 0);
                if (exits > seenExits) {
                    for (int q = 0; q < world; q++)
                        if (exitRecord.get(q) == null && store.check(new StringVector("exit/" + q)))
                            exitRecord.set(q, store.get_to_str("exit/" + q));
                    seenExits = exits;
                }
                storeOkAt = System.nanoTime();
                storeError = null;
            } catch (RuntimeException e) {
                storeError = C10dCollective.firstLine(e);
                nextRound = now + intervalNanos;
            } finally {
                storeLock.unlock();
            }
        }
    }

    private void watchLoop() {
        long pidEvery = Math.min(intervalNanos, 100_000_000L);
        while (running && !decided.get()) {
            String f = check(System.nanoTime());
            if (f != null && running) {
                fail(f, false);
                return;
            }
            LockSupport.parkNanos(pidEvery);
        }
    }

    /** The failure visible now, or null. */
    String check(long now) {
        // an exit record: the first rank that failed by itself, else one that stopped because of another
        int peerStop = -1;
        for (int q = 0; q < world; q++) {
            String r = exitRecord.get(q);
            if (r == null || q == rank) continue;
            String[] f = r.split("\\|", 4);
            if (f.length == 4 && f[0].equals("own"))
                return name(q) + " failed in " + describePhase(f[1] + "|" + f[2]) + ": " + f[3];
            if (peerStop < 0) peerStop = q;
        }
        if (peerStop >= 0) {
            String[] f = exitRecord.get(peerStop).split("\\|", 4);
            return f.length == 4 ? f[3] : name(peerStop) + " stopped";
        }
        // a process on this machine that is gone
        for (int q = 0; q < world; q++) {
            if (q == rank || done(q) || peers[q] == null || !peers[q].machine().equals(peers[rank].machine())) continue;
            if (!alive(peers[q].pid())) {
                if (q != storeHostRank) refresh(q);   // its last published phase may be newer than the last round
                return name(q) + " has exited (killed or crashed) while in " + where(q)
                        + (q == storeHostRank ? "; it hosted the store" : "");
            }
        }
        if (launcherPid > 0 && !alive(launcherPid)) return "the launcher (pid " + launcherPid + ") is gone";
        // the store: nothing heard for the timeout
        long storeAge = now - storeOkAt;
        if (storeAge > timeoutNanos)
            return String.format(Locale.ROOT, "the store at %s has not answered for %.1f s%s%s", storeWhere, storeAge / 1e9,
                    storeHostRank >= 0 && storeHostRank != rank ? "; " + name(storeHostRank) + ", which hosts it, was last in "
                            + where(storeHostRank) : "", storeError != null ? " (" + storeError + ")" : "");
        // a rank whose beat stopped while the store answers
        if (storeAge < 2 * intervalNanos + 100_000_000L)
            for (int q = 0; q < world; q++) {
                if (q == rank || done(q)) continue;
                long age = now - heardAt.get(q);
                if (age > timeoutNanos)
                    return String.format(Locale.ROOT, "%s has sent no heartbeat for %.1f s (frozen, or its machine is "
                            + "unreachable) while in %s", name(q), age / 1e9, where(q));
            }
        return null;
    }

    /** Reads rank q's last beat now (best effort: the store may be busy or gone). */
    private void refresh(int q) {
        try {
            if (!storeLock.tryLock(200, TimeUnit.MILLISECONDS)) return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            String v = store.get_to_str("hb/" + q);
            int bar = v.indexOf('|');
            if (bar >= 0) peerPhase.set(q, v.substring(bar + 1));
        } catch (RuntimeException e) {
            // keep what the last round read
        } finally {
            storeLock.unlock();
        }
    }

    private boolean done(int q) {
        String p = peerPhase.get(q);
        return p != null && p.startsWith("done|");
    }

    /**
     * Whether a process on this machine runs: from /proc/&lt;pid&gt;/stat, where a killed process that
     * its parent has not reaped yet (a zombie, state Z, as under a shell or a slow supervisor) counts
     * as dead — ProcessHandle would call it alive.
     */
    static boolean alive(long pid) {
        try {
            String st = Files.readString(Path.of("/proc/" + pid + "/stat"));
            int close = st.lastIndexOf(')');
            char state = close >= 0 && close + 2 < st.length() ? st.charAt(close + 2) : 'R';
            return state != 'Z' && state != 'X' && state != 'x';
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        } catch (IOException | RuntimeException e) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
    }

    /** Ranks other than this one not known to be gone (their process dead, or finished): who may still read the store. */
    int othersMaybeAlive() {
        int n = 0;
        for (int q = 0; q < world; q++) {
            if (q == rank || done(q)) continue;
            Peer p = peers[q];
            boolean local = p != null && peers[rank] != null && p.machine().equals(peers[rank].machine());
            if (!local || alive(p.pid())) n++;
        }
        return n;
    }
}
