package dev.editr1.cli;

import dev.editr1.kernels.KernelOps;
import dev.editr1.reward.Judge;
import dev.editr1.reward.Judges;
import dev.editr1.train.TrainConfig;
import picocli.CommandLine.Option;

/** The judge options of {@code score} and {@code calibrate}. */
final class JudgeOptions {
    @Option(names = "--judge", defaultValue = "simulated",
            description = "simulated (the embedded world's judge) or an OpenAI-compatible base URL, e.g. http://HOST:PORT/v1")
    String judge;

    @Option(names = "--judge-model", description = "the server's model name (HTTP judge)")
    String model;

    @Option(names = "--api-key-env", defaultValue = "EDITR1_JUDGE_API_KEY",
            description = "environment variable holding the API key (default ${DEFAULT-VALUE}); the key is never printed")
    String apiKeyEnv;

    @Option(names = "--timeout", defaultValue = "60", description = "seconds per request (default ${DEFAULT-VALUE})")
    double timeoutSeconds;

    @Option(names = "--retries", defaultValue = "4", description = "retries on timeouts, 429 and 5xx (default ${DEFAULT-VALUE})")
    int retries;

    @Option(names = "--in-flight", defaultValue = "8", description = "concurrent requests (default ${DEFAULT-VALUE})")
    int inFlight;

    @Option(names = "--image-format", defaultValue = "png", description = "png or jpeg (default ${DEFAULT-VALUE})")
    String imageFormat;

    Judge create(KernelOps ops) {
        if (judge.startsWith("http") && (model == null || model.isBlank()))
            throw new IllegalArgumentException("an HTTP judge needs --judge-model");
        TrainConfig d = new TrainConfig();
        return Judges.create(new Judges.Spec(judge, model, apiKeyEnv, timeoutSeconds, inFlight, retries, imageFormat,
                d.judgeNoise, d.judgeExponent, d.seed * 31 + 7), ops);
    }
}
