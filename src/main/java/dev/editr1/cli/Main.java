package dev.editr1.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code editr1} command line. */
@Command(name = "editr1", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Reinforcement post-training of flow-matching image-editing models "
                + "(Edit-R1: DiffusionNFT with an MLLM judge's logit reward).",
        subcommands = {DoctorCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
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
