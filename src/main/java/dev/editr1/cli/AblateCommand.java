package dev.editr1.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.editr1.ablate.Ablation;
import dev.editr1.ablate.AblationReport;
import dev.editr1.ablate.AblationSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code editr1 ablate SPEC.json}: named variants of a configuration × seeds, each a {@code train}
 * run in its own JVM, for an equal epoch or training-time budget; then a table (mean and 95% CI over
 * seeds) and plots against training seconds. Run it again with the same {@code --out} to resume:
 * finished runs are skipped, interrupted ones resume from their last checkpoint.
 */
@Command(name = "ablate", mixinStandardHelpOptions = true,
        description = "Run named configuration variants × seeds for an equal budget (child train processes), then a table "
                + "(mean, 95%% CI over seeds) and plots against seconds. Rerun with the same --out to resume.")
final class AblateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SPEC.json", description = "the ablation: base config, variants, seeds, budget")
    Path specFile;

    @Option(names = "--out", description = "output folder (default ablations/<spec file name>); the same folder resumes")
    Path out;

    @Option(names = "--parallel", description = "runs at once (default: the spec's, else one per two cores)")
    Integer parallel;

    @Option(names = "--report-only", description = "only (re)write the report from the finished runs")
    boolean reportOnly;

    @Override
    public Integer call() throws Exception {
        AblationSpec spec = AblationSpec.read(specFile);
        if (parallel != null && parallel < 1) throw new IllegalArgumentException("--parallel must be >= 1");
        Path dir = out != null ? out : Path.of("ablations", specFile.getFileName().toString().replaceFirst("\\.json$", ""));
        Ablation ab = new Ablation(spec, dir, System.out);
        if (reportOnly) {
            for (Ablation.Run r : ab.runs()) ab.state(r);   // refuses folders of another configuration
            AblationReport.write(spec, ab, System.out);
            return 0;
        }
        Ablation.Outcome o = ab.run(parallel != null ? parallel : 0);
        if (!o.failed().isEmpty()) {
            System.err.println("editr1 ablate: " + o.failed().size() + " run(s) failed: " + String.join(", ", o.failed())
                    + " (their logs are in " + dir.resolve("logs") + "; run the command again to retry them)");
            return 1;
        }
        return 0;
    }
}
