package dev.editr1.cli;

import java.io.IOException;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code editr1} command line. */
@Command(name = "editr1", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Reinforcement post-training of flow-matching image-editing models "
                + "(Edit-R1: DiffusionNFT with an MLLM judge's logit reward).",
        subcommands = {TrainCommand.class, AblateCommand.class, SftCommand.class, EvalCommand.class, SampleCommand.class, ScoreCommand.class,
                CalibrateCommand.class, ExportWorldCommand.class, SigmasCommand.class,
                DoctorCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * JavaCPP's allocation accounting (a /proc read and a possible System.gc() per native
     * allocation) costs more than the tiny model's tensor ops themselves; editr1 frees native
     * memory deterministically with PointerScopes instead. Must run before any JavaCPP class loads.
     */
    static void configureJavaCpp() {
        if (System.getProperty("org.bytedeco.javacpp.maxBytes") == null) System.setProperty("org.bytedeco.javacpp.maxBytes", "0");
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null)
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        configureJavaCpp();
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((ex, cmd, parsed) -> {
                    Throwable e = ex instanceof java.io.UncheckedIOException u ? u.getCause() : ex;
                    if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                            || e instanceof IOException || e instanceof dev.editr1.kernels.KernelException) {
                        cmd.getErr().println("editr1 " + cmd.getCommandName() + ": " + e.getMessage());
                        return 1;
                    }
                    throw ex;
                }).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            Package p = Main.class.getPackage();
            String v = p != null && p.getImplementationVersion() != null ? p.getImplementationVersion() : "0.1.0";
            return new String[] {"editr1 " + v};
        }
    }
}
