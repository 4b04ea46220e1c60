package dev.editr1.reward;

import dev.editr1.data.ImageFormat;

import java.time.Duration;

import dev.editr1.kernels.KernelOps;

/** Builds the judge a run asks for: "simulated", or an OpenAI-compatible server's base URL. */
public final class Judges {
    private Judges() {}

    /** Settings of a judge (the API key is named by its environment variable, never stored). */
    public record Spec(String judge, String model, String apiKeyEnv, double timeoutSeconds, int maxInFlight, int retries,
                       ImageFormat imageFormat, double noise, double exponent, long seed, JudgeFlaw flaw, double bias) {}

    public static Judge create(Spec s, KernelOps ops) {
        if (s.judge().equals("simulated")) return new SimulatedJudge(ops, s.seed(), s.noise(), s.exponent(), s.flaw(), s.bias());
        if (!s.judge().startsWith("http://") && !s.judge().startsWith("https://"))
            throw new IllegalArgumentException("judge must be 'simulated' or an http(s):// base URL, got '" + s.judge() + "'");
        String key = s.apiKeyEnv() == null || s.apiKeyEnv().isEmpty() ? null : System.getenv(s.apiKeyEnv());
        HttpJudge.Config c = new HttpJudge.Config(s.judge(), s.model(), key, Duration.ofMillis((long) (s.timeoutSeconds() * 1000)),
                s.maxInFlight(), s.retries(), Duration.ofMillis(500), Duration.ofSeconds(20), s.imageFormat(), s.seed());
        return new HttpJudge(c, ops);
    }
}
