package io.github.cogvideox4j.lora.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code cogvideox}: the command-line entry point. Run it with {@code THP_MEM_ALLOC_ENABLE=1} and
 * {@code -Dai.djl.offline=true} (the Maven profile {@code demo} and the distribution's {@code bin/cogvideox},
 * built by {@code mvn package} in {@code cogvideox-lora/target/cogvideox}, do).
 *
 * <p>As one rank of a multi-rank run ({@code cogvideox launch}, or torchrun-style variables set by Slurm or
 * Kubernetes, see {@code docs/distributed.md}) the process speaks with one voice: ranks other than 0 log warnings and
 * errors only.
 */
@Command(name = "cogvideox", mixinStandardHelpOptions = true, version = "CogVideoX4J 0.1.0-SNAPSHOT",
        description = "Fine-tune CogVideoX on the JVM.", subcommands = {TrainCommand.class, PrepareCommand.class,
                LaunchCommand.class, MediaDemoCommand.class, SelfCheckCommand.class, LoraCommand.class,
                ConvertCommand.class, InspectCommand.class})
public final class CogVideoXCli implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /**
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        // never download natives or models at run time, whatever the launcher forgot
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        // one rank of a multi-rank run: ranks other than 0 log warnings only; no rank outlives its launcher
        try {
            RankRuntime.setUp(System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("cogvideox: " + e.getMessage());
            System.exit(CommandLine.ExitCode.USAGE);
        }
        System.exit(new CommandLine(new CogVideoXCli()).execute(args));
    }
}
