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
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4));
        server.createContext("/v1/chat/completions", ex -> {
            int n = calls.getAndIncrement();
            ex.getRequestBody().readAllBytes();
            String a = ex.getRequestHeaders().getFirst("Authorization");
            if (a != null) authorization.add(a);
            Object[] r = script.apply(n);
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

    @Override
    public void close() {
        server.stop(0);
    }
}
