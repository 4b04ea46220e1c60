package dev.editr1.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running editr1's Main with the test class path, its output captured: the tests that
 * kill, freeze or lock out a real process (the data-parallel ranks, the kill-and-resume campaign).
 */
public final class ChildJvm {
    /** The JVM options the CLI's launcher and surefire use. */
    public static final List<String> JVM = List.of("-Xss4m", "-Dorg.bytedeco.javacpp.maxBytes=0",
            "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0");

    public final Process process;
    private final StringBuffer out = new StringBuffer(), err = new StringBuffer();

    private ChildJvm(Process p) {
        this.process = p;
    }

    /** Starts {@code Main args} with extra environment variables and JVM options (no torchrun variables inherited). */
    public static ChildJvm start(Map<String, String> env, List<String> jvm, String... args) throws IOException {
        return startClass("dev.editr1.cli.Main", env, jvm, args);
    }

    /** Starts another main class of the test class path. */
    public static ChildJvm startClass(String mainClass, Map<String, String> env, List<String> jvm, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.addAll(JVM);
        cmd.addAll(jvm);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.equals("RANK") || k.equals("WORLD_SIZE") || k.startsWith("TORCHELASTIC_"));
        pb.environment().putAll(env);
        ChildJvm r = new ChildJvm(pb.start());
        pump(r.process.getInputStream(), r.out);
        pump(r.process.getErrorStream(), r.err);
        return r;
    }

    public String out() {
        return out.toString();
    }

    public String err() {
        return err.toString();
    }

    /** Waits for the exit (killing the process after {@code seconds}, which fails the test); returns the exit code. */
    public int waitFor(double seconds) throws InterruptedException {
        if (!process.waitFor((long) (seconds * 1000), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("still running after " + seconds + " s: " + describe());
        }
        Thread.sleep(100);   // let the pumps drain
        return process.exitValue();
    }

    public String describe() {
        String o = out(), e = err();
        return "\n--- stdout (tail) ---\n" + o.substring(Math.max(0, o.length() - 3000)) + "\n--- stderr (tail) ---\n"
                + e.substring(Math.max(0, e.length() - 3000));
    }

    private static void pump(InputStream in, StringBuffer to) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) to.append(line).append('\n');
            } catch (IOException e) {
                // the process is gone
            }
        });
        t.setDaemon(true);
        t.start();
    }
}
