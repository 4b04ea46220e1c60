package dev.editr1.reward;

import dev.editr1.data.ImageFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import dev.editr1.kernels.NativeOps;

/**
 * The HTTP judge against a real HTTP server on loopback that answers in the exact OpenAI
 * chat-completions schema (choices → logprobs → content → top_logprobs with token, logprob,
 * bytes). Every case ends as a correct score or an explicit, counted unscored sample.
 */
class HttpJudgeTest {
    static final NativeOps OPS = new NativeOps(true);
    static final String SECRET = "sk-test-DO-NOT-LEAK-42";

    /** A scripted reply: status, body, extra headers, delay. */
    record Reply(int status, String body, String retryAfter, long delayMs) {
        static Reply ok(String body) {
            return new Reply(200, body, null, 0);
        }
    }

    HttpServer server;
    final ConcurrentLinkedQueue<String> bodies = new ConcurrentLinkedQueue<>(), auth = new ConcurrentLinkedQueue<>();
    final AtomicInteger calls = new AtomicInteger();

    String serve(Function<Integer, Reply> script) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4));
        server.createContext("/v1/chat/completions", (HttpExchange ex) -> {
            int n = calls.getAndIncrement();
            bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            String a = ex.getRequestHeaders().getFirst("Authorization");
            if (a != null) auth.add(a);
            Reply r = script.apply(n);
            try {
                if (r.delayMs() > 0) Thread.sleep(r.delayMs());
                byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
                if (r.retryAfter() != null) ex.getResponseHeaders().add("Retry-After", r.retryAfter());
                ex.getResponseHeaders().add("Content-Type", "application/json");
                ex.sendResponseHeaders(r.status(), b.length);
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(b);
                }
            } catch (InterruptedException | IOException e) {
                ex.close();
            }
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    @AfterEach
    void stop() {
        if (server != null) server.stop(0);
    }

    /** An OpenAI chat-completions response whose first token has these top log-probabilities. */
    static String completion(String[] tokens, double[] logprobs) {
        JsonArray top = new JsonArray();
        for (int i = 0; i < tokens.length; i++) {
            JsonObject t = new JsonObject();
            t.addProperty("token", tokens[i]);
            t.addProperty("logprob", logprobs[i]);
            JsonArray bytes = new JsonArray();
            for (byte b : tokens[i].getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
            t.add("bytes", bytes);
            top.add(t);
        }
        JsonObject first = new JsonObject();
        first.addProperty("token", tokens[0]);
        first.addProperty("logprob", logprobs[0]);
        first.add("bytes", new JsonArray());
        first.add("top_logprobs", top);
        JsonArray content = new JsonArray();
        content.add(first);
        JsonObject lp = new JsonObject();
        lp.add("content", content);
        JsonObject msg = new JsonObject();
        msg.addProperty("role", "assistant");
        msg.addProperty("content", tokens[0]);
        JsonObject choice = new JsonObject();
        choice.addProperty("index", 0);
        choice.add("message", msg);
        choice.add("logprobs", lp);
        choice.addProperty("finish_reason", "length");
        JsonArray choices = new JsonArray();
        choices.add(choice);
        JsonObject root = new JsonObject();
        root.addProperty("id", "chatcmpl-test");
        root.addProperty("object", "chat.completion");
        root.addProperty("model", "judge");
        root.add("choices", choices);
        return root.toString();
    }

    static final String NORMAL = completion(new String[] {"4", "5", "3", "The", "2", "0", "1"},
            new double[] {-0.3, -1.6, -2.5, -4.0, -6.0, -9.0, -8.5});

    static JudgeRequest request(long id) {
        float[] img = new float[3 * 18 * 18];
        for (int i = 0; i < img.length; i++) img[i] = (i % 7) / 7f - 0.5f;
        return new JudgeRequest(id, img, img.clone(), "make the cross blue", "the cross must turn blue", null);
    }

    HttpJudge judge(String url, Duration timeout, int retries) {
        return new HttpJudge(new HttpJudge.Config(url, "judge", SECRET, timeout, 4, retries, Duration.ofMillis(20),
                Duration.ofMillis(200), ImageFormat.PNG, 7), OPS);
    }

    /** The score the SPEC defines for these log-probs: softmax over the six digits, expected value / 5. */
    static double expectedScore(double[] digitLogprobs) {
        double m = Double.NEGATIVE_INFINITY, s = 0, v = 0;
        for (double x : digitLogprobs) m = Math.max(m, x);
        for (int k = 0; k < 6; k++) {
            double e = digitLogprobs[k] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(digitLogprobs[k] - m);
            s += e;
            v += k * e;
        }
        return v / s / 5;
    }

    @Test
    void normalAnswerIsScoredFromTheLogprobs() throws Exception {
        String url = serve(n -> Reply.ok(NORMAL));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 0)) {
            Judgement r = j.judge(List.of(request(1))).join().get(0);
            assertTrue(r.scored(), String.valueOf(r.failure()));
            double[] d = {-9.0, -8.5, -6.0, -2.5, -0.3, -1.6};
            assertEquals(expectedScore(d), r.score(), 1e-6);
            double mass = 0;
            for (double x : d) mass += Math.exp(x);
            assertEquals(mass, r.mass(), 1e-6);
            assertEquals(6, r.probs().length);
        }
        // the request: one user turn, two images as base64 data URLs, the prompt; one token, top-20 log-probs
        JsonObject body = JsonParser.parseString(bodies.peek()).getAsJsonObject();
        assertEquals("judge", body.get("model").getAsString());
        assertEquals(1, body.get("max_tokens").getAsInt());
        assertTrue(body.get("logprobs").getAsBoolean());
        assertEquals(20, body.get("top_logprobs").getAsInt());
        JsonArray content = body.getAsJsonArray("messages").get(0).getAsJsonObject().getAsJsonArray("content");
        assertEquals(3, content.size());
        for (int i = 0; i < 2; i++)
            assertTrue(content.get(i).getAsJsonObject().getAsJsonObject("image_url").get("url").getAsString()
                    .startsWith("data:image/png;base64,"));
        String text = content.get(2).getAsJsonObject().get("text").getAsString();
        assertTrue(text.contains("make the cross blue") && text.contains("the cross must turn blue")
                && text.contains("number only"), text);
        assertEquals("Bearer " + SECRET, auth.peek());
    }

    @Test
    void missingDigitsAreMinusInfinityAndSpacedTokensMerge() throws Exception {
        String url = serve(n -> Reply.ok(completion(new String[] {"4", " 4", "5", "Yes", "\n"},
                new double[] {-0.5, -1.5, -2.0, -3.0, -4.0})));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 0)) {
            Judgement r = j.judge(List.of(request(2))).join().get(0);
            double four = Math.log(Math.exp(-0.5) + Math.exp(-1.5));
            double[] d = {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY,
                    Double.NEGATIVE_INFINITY, four, -2.0};
            assertTrue(r.scored());
            assertEquals(expectedScore(d), r.score(), 1e-6);
            assertEquals(0.0, r.probs()[0], 0.0);
            assertEquals(Math.exp(four) + Math.exp(-2.0), r.mass(), 1e-6);
        }
    }

    @Test
    void serverErrorThenSuccessIsRetried() throws Exception {
        String url = serve(n -> n == 0 ? new Reply(500, "{\"error\":\"boom\"}", null, 0) : Reply.ok(NORMAL));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 3)) {
            Judgement r = j.judge(List.of(request(3))).join().get(0);
            assertTrue(r.scored(), String.valueOf(r.failure()));
            assertEquals(1, j.retried.get());
            assertEquals(2, calls.get());
        }
    }

    @Test
    void tooManyRequestsHonoursRetryAfter() throws Exception {
        String url = serve(n -> n == 0 ? new Reply(429, "{\"error\":\"slow down\"}", "1", 0) : Reply.ok(NORMAL));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 2)) {
            long t0 = System.nanoTime();
            Judgement r = j.judge(List.of(request(4))).join().get(0);
            double waited = (System.nanoTime() - t0) / 1e9;
            assertTrue(r.scored(), String.valueOf(r.failure()));
            assertTrue(waited >= 0.95, "waited " + waited + " s for Retry-After: 1");
        }
    }

    @Test
    void slowAnswersTimeOutAndComeBackUnscored() throws Exception {
        String url = serve(n -> new Reply(200, NORMAL, null, 1500));
        try (HttpJudge j = judge(url, Duration.ofMillis(300), 1)) {
            Judgement r = j.judge(List.of(request(5))).join().get(0);
            assertFalse(r.scored());
            assertTrue(Double.isNaN(r.score()), "an unscored sample has no score, not 0");
            assertTrue(r.failure().contains("no answer within 300 ms") && r.failure().contains("2 attempts"), r.failure());
            assertEquals(1, j.failed.get());
        }
    }

    @Test
    void malformedJsonAndMissingScoreTokensAreUnscored() throws Exception {
        String url = serve(n -> switch (n % 3) {
            case 0 -> Reply.ok("{\"choices\": [ {\"index\": 0, \"logprobs\": ");
            case 1 -> Reply.ok(completion(new String[] {"The", "I"}, new double[] {-0.1, -2.5}));
            default -> Reply.ok("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"4\"}}]}");
        });
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 0)) {
            // one at a time so the server's call counter matches the cases
            Judgement malformed = j.judge(List.of(request(6))).join().get(0);
            Judgement noDigit = j.judge(List.of(request(7))).join().get(0);
            Judgement noLogprobs = j.judge(List.of(request(8))).join().get(0);
            assertTrue(malformed.failure().contains("malformed"), malformed.failure());
            assertTrue(noDigit.failure().contains("no score token"), noDigit.failure());
            assertTrue(noLogprobs.failure().contains("no logprobs"), noLogprobs.failure());
        }
    }

    @Test
    void connectionRefusedIsUnscored() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();   // free now, nobody listening after the close
        }
        try (HttpJudge j = judge("http://127.0.0.1:" + port + "/v1", Duration.ofSeconds(2), 1)) {
            Judgement r = j.judge(List.of(request(9))).join().get(0);
            assertFalse(r.scored());
            assertTrue(r.failure().contains("cannot connect"), r.failure());
        }
    }

    @Test
    void clientErrorsAreNotRetried() throws Exception {
        String url = serve(n -> new Reply(400, "{\"error\":{\"message\":\"bad image\"}}", null, 0));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 3)) {
            Judgement r = j.judge(List.of(request(10))).join().get(0);
            assertTrue(r.failure().contains("HTTP 400") && r.failure().contains("bad image"), r.failure());
            assertEquals(1, calls.get());
        }
    }

    @Test
    void manyRequestsRunConcurrentlyAndKeepTheirOrder() throws Exception {
        // each answer is the request's own digit, delayed so that they finish out of order
        String url = serve(n -> Reply.ok(NORMAL));
        List<JudgeRequest> batch = new ArrayList<>();
        for (int i = 0; i < 12; i++) batch.add(request(100 + i));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 0)) {
            long t0 = System.nanoTime();
            List<Judgement> r = j.judge(batch).join();
            assertEquals(12, r.size());
            for (Judgement x : r) assertTrue(x.scored());
            assertNotNull(r.get(11));
            assertTrue((System.nanoTime() - t0) / 1e9 < 10);
        }
    }

    @Test
    void theKeyIsNeverPrinted() throws Exception {
        String url = serve(n -> Reply.ok(NORMAL));
        try (HttpJudge j = judge(url, Duration.ofSeconds(5), 0)) {
            assertFalse(j.describe().contains(SECRET));
            assertFalse(new HttpJudge.Config(url, "judge", SECRET, Duration.ofSeconds(1), 1, 0, Duration.ofMillis(1),
                    Duration.ofMillis(1), ImageFormat.PNG, 0).toString().contains(SECRET));
        }
    }
}
