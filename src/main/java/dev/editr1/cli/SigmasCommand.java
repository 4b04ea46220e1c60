package dev.editr1.cli;

import java.util.Locale;
import java.util.concurrent.Callable;

import dev.editr1.flow.SigmaSchedule;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code editr1 sigmas}: a preset's sampler grid (with its final 0) as a JSON array. */
@Command(name = "sigmas", mixinStandardHelpOptions = true,
        description = "Print a sigma schedule (SPEC §2) as a JSON array, final 0 included.")
final class SigmasCommand implements Callable<Integer> {
    @Option(names = "--preset", required = true, description = "sd3 (static shift), kontext or qwen (dynamic shift)")
    String preset;

    @Option(names = "--steps", required = true, description = "sampler steps N")
    int steps;

    @Option(names = "--tokens", defaultValue = "1024", description = "latent token count L (dynamic presets; default ${DEFAULT-VALUE})")
    long tokens;

    @Option(names = "--shift", description = "sd3: the static shift s (default 3); kontext/qwen: e^μ instead of the interpolated μ")
    Double shift;

    @Override
    public Integer call() {
        double[] s = SigmaSchedule.preset(SigmaSchedule.Preset.parse(preset), steps, tokens, shift == null ? Double.NaN : shift);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.6g", s[i]));
        System.out.println(sb.append("]"));
        return 0;
    }
}
