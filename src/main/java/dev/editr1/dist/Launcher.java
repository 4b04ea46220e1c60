package dev.editr1.dist;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code editr1 train --nproc N}: torchrun's job for one machine, done by the JVM itself. Starts N
 * child JVMs — the same {@code java} binary, JVM options and class path, the main class and the
 * arguments minus {@code --nproc} — with the torchrun variables set (RANK = LOCAL_RANK = r,
 * WORLD_SIZE = LOCAL_WORLD_SIZE = N, MASTER_ADDR = 127.0.0.1, MASTER_PORT = a free port), streams
 * their output line by line with a {@code [rank r]} prefix, and when one exits non-zero gives the
 * others a grace period to stop by themselves (they notice within their heartbeat timeout and
 * say which rank failed and where), then kills them; exits with the first failure's code.
 * If the launcher itself dies, its ranks notice ({@link DistEnv#LAUNCHER_PID}) and stop.
 */
public final class Launcher {
    private Launcher() {}

    /** A child's end: its rank, exit code and when the launcher saw it. */
    private record Exit(int rank, int code, long at) {}

    /**
     * Runs {@code n} ranks of {@code mainClass args} and waits for them.
     *
     * @param graceSeconds how long the other ranks may take to stop by themselves after one failed
     * @return 0 when every rank exited 0, else the first failing rank's exit code
     */
    public static int run(int n, String mainClass, List<String> args, double graceSeconds, PrintStream out, PrintStream err)
            throws IOException, InterruptedException {
        int port = freePort();
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp")) cmd.add(a);   // one debugger port, not N
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        err.printf(Locale.ROOT, "editr1 --nproc: starting %d ranks on this machine (MASTER_ADDR=127.0.0.1 MASTER_PORT=%d)%n", n, port);
        List<Process> procs = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        Thread hook = new Thread(() -> stopAll(procs, 2000));
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            for (int r = 0; r < n; r++) {
                ProcessBuilder pb = new ProcessBuilder(cmd);
                Map<String, String> env = pb.environment();
                env.keySet().removeIf(k -> k.startsWith("TORCHELASTIC_"));
                env.put("RANK", String.valueOf(r));
                env.put("LOCAL_RANK", String.valueOf(r));
                env.put("GROUP_RANK", "0");
                env.put("WORLD_SIZE", String.valueOf(n));
                env.put("LOCAL_WORLD_SIZE", String.valueOf(n));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", String.valueOf(port));
                env.put(DistEnv.LAUNCHER_PID, String.valueOf(ProcessHandle.current().pid()));
                Process p = pb.start();
                procs.add(p);
                pumps.add(pump(p.getInputStream(), "[rank " + r + "] ", out));
                pumps.add(pump(p.getErrorStream(), "[rank " + r + "] ", err));
            }
            Exit first = null;
            boolean[] seen = new boolean[n];
            while (true) {
                boolean running = false;
                for (int r = 0; r < n; r++) {
                    Process p = procs.get(r);
                    if (p.isAlive()) {
                        running = true;
                        continue;
                    }
                    if (seen[r]) continue;
                    seen[r] = true;
                    int code = p.exitValue();
                    if (code != 0) {
                        err.printf(Locale.ROOT, "editr1 --nproc: rank %d exited with code %d%s%n", r, code, signal(code));
                        if (first == null) first = new Exit(r, code, System.nanoTime());
                    }
                }
                if (!running) break;
                if (first != null && System.nanoTime() - first.at() > graceSeconds * 1e9) {
                    err.printf(Locale.ROOT, "editr1 --nproc: stopping the ranks still running %.0f s after rank %d failed%n",
                            graceSeconds, first.rank());
                    stopAll(procs, 2000);
                }
                Thread.sleep(50);
            }
            for (Thread t : pumps) t.join(5000);
            if (first != null)
                err.printf(Locale.ROOT, "editr1 --nproc: failed: rank %d was the first to exit non-zero (%d)%n", first.rank(), first.code());
            return first == null ? 0 : first.code();
        } finally {
            stopAll(procs, 2000);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // shutting down already
            }
        }
    }

    /** The arguments without {@code --nproc N} / {@code --nproc=N}. */
    public static List<String> withoutNproc(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--nproc")) i++;
            else if (!a.startsWith("--nproc=")) out.add(a);
        }
        return out;
    }

    private static String signal(int code) {
        if (code <= 128 || code > 128 + 64) return "";
        return switch (code - 128) {
            case 9 -> " (SIGKILL)";
            case 15 -> " (SIGTERM)";
            case 6 -> " (SIGABRT)";
            case 11 -> " (SIGSEGV)";
            case 2 -> " (SIGINT)";
            default -> " (signal " + (code - 128) + ")";
        };
    }

    /** SIGTERM, then SIGKILL for what is left after {@code graceMillis}. */
    private static void stopAll(List<Process> procs, long graceMillis) {
        for (Process p : procs) if (p.isAlive()) p.destroy();
        long end = System.currentTimeMillis() + graceMillis;
        for (Process p : procs)
            try {
                while (p.isAlive() && System.currentTimeMillis() < end) Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        for (Process p : procs) if (p.isAlive()) p.destroyForcibly();
    }

    private static Thread pump(InputStream in, String prefix, PrintStream to) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; )
                    synchronized (to) {
                        to.println(prefix + line);
                    }
            } catch (IOException e) {
                // the child is gone
            }
        }, "editr1-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** A TCP port free on the loopback interface now (rank 0 binds it a moment later, as torchrun does). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on the loopback interface", e);
        }
    }
}
