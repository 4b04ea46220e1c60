package dev.editr1.cli;

import dev.editr1.train.TrainConfig;
import picocli.CommandLine.Option;

/** The judge options of train, eval, score and calibrate; unset ones keep the configuration's value. */
final class JudgeOptions {
    @Option(names = "--judge", description = "simulated (the embedded world's judge; default) or an OpenAI-compatible base URL, e.g. http://HOST:PORT/v1")
    String judge;

    @Option(names = "--judge-model", description = "the judge server's model name (HTTP judge)")
    String model;

    @Option(names = "--api-key-env", description = "environment variable holding the API key (default EDITR1_JUDGE_API_KEY); the key is never printed")
    String apiKeyEnv;

    @Option(names = "--timeout", description = "seconds per judge request (default 60)")
    Double timeoutSeconds;

    @Option(names = "--retries", description = "judge retries on timeouts, 429 and 5xx (default 4)")
    Integer retries;

    @Option(names = "--in-flight", description = "concurrent judge requests (default 8)")
    Integer inFlight;

    @Option(names = "--image-format", description = "png or jpeg: how images go to an HTTP judge (default png)")
    String imageFormat;

    void apply(TrainConfig cfg) {
        if (judge != null) cfg.judge = judge;
        if (model != null) cfg.judgeModel = model;
        if (apiKeyEnv != null) cfg.judgeApiKeyEnv = apiKeyEnv;
        if (timeoutSeconds != null) cfg.judgeTimeoutSeconds = timeoutSeconds;
        if (retries != null) cfg.judgeRetries = retries;
        if (inFlight != null) cfg.judgeMaxInFlight = inFlight;
        if (imageFormat != null) cfg.set("judgeImageFormat", imageFormat);
    }
}
