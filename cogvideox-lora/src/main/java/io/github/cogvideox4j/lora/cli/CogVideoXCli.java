package io.github.cogvideox4j.lora.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code cogvideox}: the command-line entry point. Run it with {@code THP_MEM_ALLOC_ENABLE=1} and
 * {@code -Dai.djl.offline=true} (the Maven profile {@code demo} and {@code bin/cogvideox} do).
 */
@Command(name = "cogvideox", mixinStandardHelpOptions = true, version = "CogVideoX4J 0.1.0-SNAPSHOT",
        description = "Fine-tune CogVideoX on the JVM.", subcommands = {TrainCommand.class, PrepareCommand.class, MediaDemoCommand.class, DemoCommand.class, LoraCommand.class, ConvertCommand.class, InspectCommand.class})
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
        System.exit(new CommandLine(new CogVideoXCli()).execute(args));
    }
}
