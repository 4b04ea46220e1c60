package dev.editr1.reward;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

import com.sun.net.httpserver.HttpServer;

/** A real OpenAI-compatible server on loopback for tests: scripted replies by call number. */
public final class LoopbackJudgeServer implements AutoCloseable {
    public final ConcurrentLinkedQueue<String> authorization = new ConcurrentLinkedQueue<>();
    public final AtomicInteger calls = new AtomicInteger();
    private final HttpServer server;

    /** @param script call number → {status, body} */
    public LoopbackJudgeServer(IntFunction<Object[]> script) throws IOException {
        this((n, body) -> script.apply(n));
    }

    /** @param script (call number, request body) → {status, body}: replies that depend on what is asked */
    public LoopbackJudgeServer(java.util.function.BiFunction<Integer, String, Object[]> script) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4));
        server.createContext("/v1/chat/completions", ex -> {
            int n = calls.getAndIncrement();
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String a = ex.getRequestHeaders().getFirst("Authorization");
            if (a != null) authorization.add(a);
            Object[] r = script.apply(n, body);
            byte[] b = ((String) r[1]).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders((Integer) r[0], b.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(b);
            }
        });
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    /** A normal answer: mostly "4". */
    public static String normal() {
        return HttpJudgeTest.NORMAL;
    }

    /**
     * An answer that depends only on the request (a hash of its body: the images and the prompt):
     * the same edit always gets the same score, whatever the order of the calls, so a run with this
     * judge replays bit for bit.
     */
    public static String byContent(String requestBody) {
        int h = requestBody.hashCode();
        double[] lp = new double[6];
        int best = Math.floorMod(h, 6);
        for (int k = 0; k < 6; k++) lp[k] = -0.3 - Math.abs(k - best) - 0.01 * Math.floorMod(h >> (4 * k), 16);
        return HttpJudgeTest.completion(new String[] {"0", "1", "2", "3", "4", "5"}, lp);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
