package dev.editr1.reward;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * An OpenAI-compatible judge on loopback that breaks on purpose, and counts what it broke. Each
 * distinct request (its body: images and prompt; retries are the same request) gets a fault when
 * first seen, round-robin over {@link Fault} in order of arrival, so every fault occurs and at most
 * a third of any run of consecutive requests is unscorable. The preflight request is always answered.
 */
public final class HostileJudgeServer implements AutoCloseable {
    /** What happens to a request; the ALWAYS_ ones and WRONG_TOKENS/TRUNCATED leave it unscorable. */
    public enum Fault {
        NONE, ALWAYS_500, ONCE_500, STORM_429, TRUNCATED, NONE_2, ONCE_SLOW, WRONG_TOKENS, LOW_MASS, ALWAYS_DROP, ONCE_DROP, NONE_3;

        /** No answer with score tokens ever comes back: the sample must end unscored. */
        public boolean unscorable() {
            return this == ALWAYS_500 || this == TRUNCATED || this == WRONG_TOKENS || this == ALWAYS_DROP;
        }
    }

    private final HttpServer server;
    private final long slowMs;
    private final Map<String, Fault> assigned = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    private final AtomicInteger distinct = new AtomicInteger();
    /** Requests (distinct bodies) per fault. */
    public final Map<Fault, Set<String>> seen = new EnumMap<>(Fault.class);
    /** Responses broken on purpose (a retried request counts once per broken response). */
    public final AtomicInteger brokenResponses = new AtomicInteger();

    /** @param timeoutSeconds the client's timeout: a slow answer comes this + 0.5 s late */
    public HostileJudgeServer(double timeoutSeconds) throws IOException {
        for (Fault f : Fault.values()) seen.put(f, ConcurrentHashMap.newKeySet());
        this.slowMs = (long) (timeoutSeconds * 1000) + 500;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(16));
        server.createContext("/v1/chat/completions", this::handle);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    /** Distinct requests with a fault of these kinds so far. */
    public int count(java.util.function.Predicate<Fault> which) {
        int n = 0;
        for (Map.Entry<Fault, Set<String>> e : seen.entrySet()) if (which.test(e.getKey())) n += e.getValue().size();
        return n;
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        if (body.contains("editr1 preflight")) {
            reply(ex, 200, LoopbackJudgeServer.byContent(body), null);
            return;
        }
        String key = Integer.toHexString(body.hashCode()) + ":" + body.length();
        Fault f = assigned.computeIfAbsent(key, k -> Fault.values()[distinct.getAndIncrement() % Fault.values().length]);
        seen.get(f).add(key);
        int a = attempts.computeIfAbsent(key, k -> new AtomicInteger()).getAndIncrement();
        String normal = LoopbackJudgeServer.byContent(body);
        switch (f) {
            case ALWAYS_500 -> broken(ex, 500, "{\"error\":\"internal\"}");
            case ONCE_500 -> {
                if (a == 0) broken(ex, 503, "{\"error\":\"overloaded\"}");
                else reply(ex, 200, normal, null);
            }
            case STORM_429 -> {
                if (a < 2) {
                    brokenResponses.incrementAndGet();
                    reply(ex, 429, "{\"error\":\"rate limited\"}", "1");
                } else reply(ex, 200, normal, null);
            }
            case TRUNCATED -> broken(ex, 200, normal.substring(0, normal.length() / 2));
            case ONCE_SLOW -> {
                if (a == 0) {
                    brokenResponses.incrementAndGet();
                    sleep(slowMs);
                }
                reply(ex, 200, normal, null);
            }
            case WRONG_TOKENS -> broken(ex, 200, HttpJudgeTest.completion(new String[] {"Sure", "The", "I", "Yes", "No", "OK"},
                    new double[] {-0.1, -2, -3, -4, -5, -6}));
            case LOW_MASS -> reply(ex, 200, HttpJudgeTest.completion(new String[] {"The", "4", "3", "5", "2", "1", "0"},
                    new double[] {-0.05, -2.5, -3.5, -4, -5, -6, -7}), null);
            case ALWAYS_DROP -> drop(ex, normal);
            case ONCE_DROP -> {
                if (a == 0) drop(ex, normal);
                else reply(ex, 200, normal, null);
            }
            default -> reply(ex, 200, normal, null);
        }
    }

    private void broken(HttpExchange ex, int status, String body) throws IOException {
        brokenResponses.incrementAndGet();
        reply(ex, status, body, null);
    }

    /** Headers for the whole answer, half of it, then the connection closes. */
    private void drop(HttpExchange ex, String body) throws IOException {
        brokenResponses.incrementAndGet();
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        OutputStream o = ex.getResponseBody();
        o.write(b, 0, b.length / 2);
        o.flush();
        ex.close();
    }

    private static void reply(HttpExchange ex, int status, String body, String retryAfter) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        if (retryAfter != null) ex.getResponseHeaders().add("Retry-After", retryAfter);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
