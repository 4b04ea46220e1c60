package dev.editr1.reward;

import dev.editr1.data.ImageFormat;

import dev.editr1.data.ImageCodec;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.LogitScoreResult;
import dev.editr1.kernels.ScoreMode;
import dev.editr1.kernels.ScoreTokens;
import dev.editr1.kernels.Tensors;

/**
 * A multimodal LLM judge behind any OpenAI-compatible chat-completions server (vLLM, SGLang,
 * llama.cpp's server, …). One user turn carries the source image, the edited image (base64 data
 * URLs) and the rating prompt; the request asks for one token with its top-20 log-probabilities.
 * The score tokens' log-probabilities (a missing one is −∞) go through the logit-score kernel, as
 * raw logits would: score, renormalized probabilities; the mass on the score tokens is the sum of
 * their probabilities.
 *
 * <p>Requests run concurrently on a pool of {@code maxInFlight} threads, so judging overlaps
 * rollouts and one slow request never holds the training thread. Timeouts, 429 (honouring
 * Retry-After) and 5xx are retried with exponential backoff and full jitter; what still fails comes
 * back unscored with the reason. The API key goes only into the Authorization header: it is never
 * logged, described, or written anywhere.
 */
public final class HttpJudge implements Judge {
    /** Connection and behaviour settings. */
    public record Config(String baseUrl, String model, String apiKey, Duration timeout, int maxInFlight, int retries,
                         Duration backoffBase, Duration backoffMax, ImageFormat imageFormat, long jitterSeed) {
        public Config {
            if (baseUrl == null || !(baseUrl.startsWith("http://") || baseUrl.startsWith("https://")))
                throw new IllegalArgumentException("judge URL must start with http:// or https://, got '" + baseUrl + "'");
            if (model == null || model.isBlank()) throw new IllegalArgumentException("judge model name is empty");
            if (maxInFlight < 1) throw new IllegalArgumentException("judge maxInFlight must be >= 1");
            if (retries < 0) throw new IllegalArgumentException("judge retries must be >= 0");
            if (imageFormat == null) throw new IllegalArgumentException("judge image format is not set (png or jpeg)");
        }

        public static Config of(String baseUrl, String model, String apiKey) {
            return new Config(baseUrl, model, apiKey, Duration.ofSeconds(60), 8, 4, Duration.ofMillis(500),
                    Duration.ofSeconds(20), ImageFormat.PNG, 1);
        }

        public Config withTimeout(Duration d) {
            return new Config(baseUrl, model, apiKey, d, maxInFlight, retries, backoffBase, backoffMax, imageFormat, jitterSeed);
        }

        public Config withRetries(int r, Duration base, Duration max) {
            return new Config(baseUrl, model, apiKey, timeout, maxInFlight, r, base, max, imageFormat, jitterSeed);
        }

        /** Never prints the key. */
        @Override
        public String toString() {
            return "HttpJudge.Config[" + baseUrl + ", model " + model + ", key " + (apiKey == null ? "none" : "set")
                    + ", timeout " + timeout + ", in flight " + maxInFlight + ", retries " + retries + "]";
        }
    }

    /** Counters for the metrics. */
    public final AtomicLong requests = new AtomicLong(), retried = new AtomicLong(), failed = new AtomicLong();

    private static final String[] DIGITS = {"0", "1", "2", "3", "4", "5"};
    private static final String[] YES_NO = {"yes", "no"};

    private final Config cfg;
    private final KernelOps ops;
    private final HttpClient client;
    private final ExecutorService pool;
    private final String endpoint;

    public HttpJudge(Config cfg, KernelOps ops) {
        this.cfg = cfg;
        this.ops = ops;
        this.client = HttpClient.newBuilder().connectTimeout(cfg.timeout()).version(HttpClient.Version.HTTP_1_1).build();
        this.pool = Executors.newFixedThreadPool(cfg.maxInFlight(), r -> {
            Thread t = new Thread(r, "editr1-http-judge");
            t.setDaemon(true);
            return t;
        });
        String base = cfg.baseUrl().endsWith("/") ? cfg.baseUrl().substring(0, cfg.baseUrl().length() - 1) : cfg.baseUrl();
        this.endpoint = base + "/chat/completions";
    }

    @Override
    public String describe() {
        return "http " + cfg.baseUrl() + " (model " + cfg.model() + ")";
    }

    /** One request's outcome before scoring: log-probs of the K tokens, or a sampled token, or a failure. */
    private record Raw(float[] logprobs, String sampled, String failure) {}

    @Override
    public CompletableFuture<List<Judgement>> judge(List<JudgeRequest> batch, Method method) {
        List<CompletableFuture<Raw>> futures = new ArrayList<>();
        for (JudgeRequest r : batch) futures.add(CompletableFuture.supplyAsync(() -> rateOne(r, method), pool));
        return CompletableFuture.allOf(futures.toArray(new CompletableFuture[0]))
                .thenApply(v -> combine(futures.stream().map(CompletableFuture::join).toList(), method, batch));
    }

    /** Scores the raw answers together: one logit-score launch for the batch. */
    private List<Judgement> combine(List<Raw> raws, Method method, List<JudgeRequest> batch) {
        int n = raws.size();
        Judgement[] out = new Judgement[n];
        boolean yesNo = method == Method.YES_NO_LOGIT;
        int k = yesNo ? 2 : 6;
        List<Integer> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Raw r = raws.get(i);
            if (r.failure() != null) {
                out[i] = Judgement.unscored(r.failure());
            } else if (method == Method.SAMPLED_DIGIT) {
                int d = digit(r.sampled());
                out[i] = d < 0 ? Judgement.unscored("the judge answered '" + r.sampled() + "', not a digit 0..5")
                        : new Judgement(d / 5.0, new double[0], Double.NaN, null);
            } else {
                rows.add(i);
            }
        }
        if (!rows.isEmpty()) {
            float[] l = new float[rows.size() * k];
            for (int j = 0; j < rows.size(); j++) System.arraycopy(raws.get(rows.get(j)).logprobs(), 0, l, j * k, k);
            LogitScoreResult s = ops.logitScore(Tensors.fromFloats(l, rows.size(), k),
                    yesNo ? ScoreTokens.yesNo(0, 1) : ScoreTokens.dense(6),
                    method == Method.GREEDY_DIGIT ? ScoreMode.ARGMAX : ScoreMode.EXPECTED);
            float[] score = Tensors.toFloats(s.score()), probs = Tensors.toFloats(s.probs());
            for (int j = 0; j < rows.size(); j++) {
                int i = rows.get(j);
                float[] lp = raws.get(i).logprobs();
                if (Float.isNaN(score[j])) {
                    out[i] = Judgement.unscored("no " + (yesNo ? "yes/no" : "score") + " token among the top log-probabilities");
                    continue;
                }
                double[] p = new double[k];
                double mass = 0;
                for (int c = 0; c < k; c++) {
                    p[c] = probs[j * k + c];
                    mass += lp[c] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(lp[c]);  // log-probs are over the vocabulary
                }
                out[i] = new Judgement(score[j], p, mass, null);
            }
        }
        return List.of(out);
    }

    static int digit(String s) {
        if (s == null) return -1;
        String t = s.trim();
        for (int d = 0; d < 6; d++) if (t.equals(DIGITS[d])) return d;
        return -1;
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * One rating of a small grey pair, single attempt: a refused connection, 401/403/404 or an answer
     * without score tokens stops the run before its first rollout; 429 and 5xx (the server is there,
     * just busy) pass, and training's own retries deal with them.
     */
    @Override
    public void preflight() {
        float[] grey = new float[3 * 16 * 16];
        JudgeRequest probe = new JudgeRequest(-1, grey, grey, "editr1 preflight: leave the image unchanged", "", null);
        String where = "the judge at " + cfg.baseUrl() + " (model " + cfg.model() + ")";
        HttpResponse<String> resp;
        try {
            resp = post(requestBody(probe, Method.SCORE_LOGIT));
        } catch (HttpTimeoutException e) {
            throw new IllegalStateException(where + " did not answer a first request within " + cfg.timeout().toMillis()
                    + " ms (judgeTimeout); nothing was trained");
        } catch (ConnectException e) {
            throw new IllegalStateException("cannot reach " + where + ": " + (e.getMessage() == null ? "connection refused"
                    : shortText(e.getMessage())) + "; nothing was trained");
        } catch (IOException e) {
            throw new IllegalStateException("cannot reach " + where + ": " + shortText(String.valueOf(e.getMessage()))
                    + "; nothing was trained");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking " + where);
        }
        int status = resp.statusCode();
        if (status == 429 || status >= 500) return;
        if (status != 200)
            throw new IllegalStateException(where + " refused a first request: HTTP " + status + ": " + shortText(resp.body())
                    + (status == 401 || status == 403 ? " (check the API key variable)" : status == 404 ? " (check the URL and the model name)" : ""));
        Raw raw;
        try {
            raw = parse(resp.body(), Method.SCORE_LOGIT);
        } catch (RuntimeException e) {
            throw new IllegalStateException(where + " answered a first request with something that is not a chat completion: "
                    + shortText(e.getMessage()));
        }
        if (raw.failure() != null) throw new IllegalStateException(where + ": " + raw.failure());
        boolean any = false;
        if (raw.logprobs() != null) for (float x : raw.logprobs()) any |= x > Float.NEGATIVE_INFINITY;
        if (!any)
            throw new IllegalStateException(where + " returned none of the score tokens 0..5 among its top log-probabilities: "
                    + "is it a model that returns logprobs, with the digits as single tokens?");
    }

    /** One POST of a chat-completions body, the key (if any) only in the Authorization header. */
    private HttpResponse<String> post(String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint)).timeout(cfg.timeout())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (cfg.apiKey() != null && !cfg.apiKey().isEmpty()) b.header("Authorization", "Bearer " + cfg.apiKey());
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private Raw rateOne(JudgeRequest r, Method method) {
        String body;
        try {
            body = requestBody(r, method);
        } catch (IOException | RuntimeException e) {
            return new Raw(null, null, "could not encode the images: " + e.getMessage());
        }
        SplittableRandom jitter = new SplittableRandom(cfg.jitterSeed() ^ r.id());
        String lastFailure = "no attempt";
        for (int attempt = 0; attempt <= cfg.retries(); attempt++) {
            if (attempt > 0) retried.incrementAndGet();
            requests.incrementAndGet();
            long waitMs;
            try {
                HttpResponse<String> resp = post(body);
                int status = resp.statusCode();
                if (status == 200) {
                    try {
                        return parse(resp.body(), method);
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                        return new Raw(null, null, "malformed response from the judge (" + shortText(e.getMessage()) + ")");
                    }
                }
                lastFailure = "HTTP " + status + ": " + shortText(resp.body());
                if (status == 429) {
                    waitMs = retryAfterMs(resp).orElse(backoffMs(attempt, jitter));
                } else if (status >= 500) {
                    waitMs = backoffMs(attempt, jitter);
                } else {
                    failed.incrementAndGet();   // 4xx other than 429: the request itself is wrong; retrying will not help
                    return new Raw(null, null, lastFailure);
                }
            } catch (HttpTimeoutException e) {
                lastFailure = "no answer within " + cfg.timeout().toMillis() + " ms";
                waitMs = backoffMs(attempt, jitter);
            } catch (ConnectException e) {
                lastFailure = "cannot connect to " + cfg.baseUrl() + " (" + (e.getMessage() == null ? "connection refused"
                        : shortText(e.getMessage())) + ")";
                waitMs = backoffMs(attempt, jitter);
            } catch (IOException e) {
                lastFailure = "I/O error talking to " + cfg.baseUrl() + ": " + shortText(String.valueOf(e.getMessage()));
                waitMs = backoffMs(attempt, jitter);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failed.incrementAndGet();
                return new Raw(null, null, "interrupted");
            }
            if (attempt == cfg.retries()) break;
            try {
                Thread.sleep(waitMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failed.incrementAndGet();
                return new Raw(null, null, "interrupted");
            }
        }
        failed.incrementAndGet();
        return new Raw(null, null, lastFailure + " (after " + (cfg.retries() + 1) + " attempts)");
    }

    /** base·2^attempt, capped, with full jitter: a uniform draw in [0, that]. */
    long backoffMs(int attempt, SplittableRandom jitter) {
        double cap = Math.min(cfg.backoffMax().toMillis(), cfg.backoffBase().toMillis() * Math.pow(2, attempt));
        return (long) (jitter.nextDouble() * cap);
    }

    static java.util.Optional<Long> retryAfterMs(HttpResponse<?> resp) {
        var h = resp.headers().firstValue("Retry-After");
        if (h.isEmpty()) return java.util.Optional.empty();
        String v = h.get().trim();
        try {
            return java.util.Optional.of((long) (Double.parseDouble(v) * 1000));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime t = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
                return java.util.Optional.of(Math.max(0, Duration.between(ZonedDateTime.now(), t).toMillis()));
            } catch (RuntimeException e2) {
                return java.util.Optional.empty();
            }
        }
    }

    private static String shortText(String s) {
        if (s == null) return "";
        String t = s.replaceAll("\\s+", " ").trim();
        return t.length() > 200 ? t.substring(0, 200) + "…" : t;
    }

    String requestBody(JudgeRequest r, Method method) throws IOException {
        int side = ImageCodec.side(r.source());
        JsonArray content = new JsonArray();
        for (float[] img : new float[][] {r.source(), r.edited()}) {
            JsonObject part = new JsonObject(), url = new JsonObject();
            part.addProperty("type", "image_url");
            url.addProperty("url", ImageCodec.dataUrl(img, side, cfg.imageFormat()));
            part.add("image_url", url);
            content.add(part);
        }
        JsonObject text = new JsonObject();
        text.addProperty("type", "text");
        text.addProperty("text", Prompts.fill(method == Method.YES_NO_LOGIT ? Prompts.YES_NO : Prompts.SCORE,
                r.instruction(), r.requirement()));
        content.add(text);
        JsonObject msg = new JsonObject();
        msg.addProperty("role", "user");
        msg.add("content", content);
        JsonArray messages = new JsonArray();
        messages.add(msg);
        JsonObject body = new JsonObject();
        body.addProperty("model", cfg.model());
        body.add("messages", messages);
        body.addProperty("max_tokens", 1);
        if (method == Method.SAMPLED_DIGIT) {
            body.addProperty("temperature", 1.0);
        } else {
            body.addProperty("temperature", 0.0);
            body.addProperty("logprobs", true);
            body.addProperty("top_logprobs", 20);
        }
        return body.toString();
    }

    /** The answer of an OpenAI chat-completions response: choices[0].logprobs.content[0].top_logprobs. */
    static Raw parse(String json, Method method) {
        JsonObject root = JsonParser.parseString(json).getAsJsonObject();
        JsonArray choices = root.getAsJsonArray("choices");
        if (choices == null || choices.isEmpty()) throw new IllegalStateException("no choices");
        JsonObject choice = choices.get(0).getAsJsonObject();
        if (method == Method.SAMPLED_DIGIT) {
            JsonObject m = choice.getAsJsonObject("message");
            if (m == null || !m.has("content") || m.get("content").isJsonNull()) throw new IllegalStateException("no message content");
            return new Raw(null, m.get("content").getAsString(), null);
        }
        JsonElement lp = choice.get("logprobs");
        if (lp == null || lp.isJsonNull())
            return new Raw(null, null, "the judge returned no logprobs (does the server support logprobs / top_logprobs?)");
        JsonArray tokens = lp.getAsJsonObject().getAsJsonArray("content");
        if (tokens == null || tokens.isEmpty()) return new Raw(null, null, "the judge returned no token");
        JsonArray top = tokens.get(0).getAsJsonObject().getAsJsonArray("top_logprobs");
        if (top == null) throw new IllegalStateException("no top_logprobs");
        String[] wanted = method == Method.YES_NO_LOGIT ? YES_NO : DIGITS;
        float[] out = new float[wanted.length];
        java.util.Arrays.fill(out, Float.NEGATIVE_INFINITY);
        for (JsonElement e : top) {
            JsonObject t = e.getAsJsonObject();
            String tok = t.get("token").getAsString().trim().toLowerCase(Locale.ROOT);
            double logprob = t.get("logprob").getAsDouble();
            for (int k = 0; k < wanted.length; k++) {
                if (!tok.equals(wanted[k])) continue;
                // "4" and " 4" are the same answer: their probabilities add
                out[k] = out[k] == Float.NEGATIVE_INFINITY ? (float) logprob
                        : (float) (Math.max(out[k], logprob) + Math.log1p(Math.exp(-Math.abs(out[k] - logprob))));
            }
        }
        return new Raw(out, null, null);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
