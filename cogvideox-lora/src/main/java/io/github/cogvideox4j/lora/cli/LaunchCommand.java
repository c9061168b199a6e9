package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.core.dist.DistributedEnvironment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox launch}: starts the ranks of one machine, as torchrun does. Each rank is a JVM running the given
 * {@code cogvideox} command with the launcher's {@code java}, class path and JVM options (minus debugger, agent and
 * JMX-port options, which cannot be shared), and the torchrun-style variables {@code RANK = node_rank * N +
 * local_rank}, {@code WORLD_SIZE = nnodes * N}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE = N}, {@code GROUP_RANK =
 * node_rank}, {@code MASTER_ADDR}, {@code MASTER_PORT}, plus {@code THP_MEM_ALLOC_ENABLE=1} and the variables of
 * {@link RankRuntime} (the launcher's pid; {@code --timeout-seconds} as the group timeout). Started from the
 * distribution's {@code bin/cogvideox}, the ranks run the jars of its {@code lib/} (the class path the JVM expanded
 * from {@code lib/*}) with the options of {@code JAVA_OPTS}, and inherit its environment ({@code LD_PRELOAD} of the
 * MKL vendor switch).
 *
 * <p>Every output line of a rank is printed with its rank ({@code [rank 1] ...}; stdout to stdout, stderr to stderr,
 * whole lines). When a rank exits non-zero or is killed, the launcher stops the others (SIGTERM, then SIGKILL after
 * {@code --grace-seconds}) and exits with that rank's status, naming the rank. When the launcher itself is
 * terminated, it stops its ranks first; a rank whose launcher was killed outright ends itself. Exit code 0 when every
 * rank exits 0; 2 on a usage error.
 *
 * <p>Several machines: run one launcher per machine with the same {@code --nnodes}, {@code --master-addr} (the host of
 * node 0) and {@code --master-port}, and {@code --node-rank} 0..M-1. A failure on another machine reaches this one
 * through the collectives' timeout.
 */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Start N ranks of a cogvideox command on this machine (torchrun-style).",
        footer = {"", "Examples:", "  cogvideox launch --nproc-per-node 2 -- train --config run.yaml",
            "  cogvideox launch --nproc-per-node 4 --nnodes 2 --node-rank 0 --master-addr node0 -- train "
                    + "--config run.yaml"})
final class LaunchCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--nproc-per-node", required = true, description = "ranks to start on this machine (N >= 1)")
    private int nprocPerNode;

    @Option(names = "--nnodes", defaultValue = "1", description = "machines taking part (default: ${DEFAULT-VALUE})")
    private int nnodes;

    @Option(names = "--node-rank", defaultValue = "0",
            description = "this machine's index in [0, nnodes) (default: ${DEFAULT-VALUE})")
    private int nodeRank;

    @Option(names = "--master-addr", defaultValue = "127.0.0.1",
            description = "host of rank 0's rendezvous store (default: ${DEFAULT-VALUE})")
    private String masterAddr;

    @Option(names = "--master-port", defaultValue = "" + DistributedEnvironment.DEFAULT_PORT,
            description = "TCP port of the rendezvous store (default: ${DEFAULT-VALUE})")
    private int masterPort;

    @Option(names = "--timeout-seconds",
            description = "rendezvous and collective timeout of the ranks (default: the commands' own, 30 minutes)")
    private Long timeoutSeconds;

    @Option(names = "--grace-seconds", defaultValue = "5",
            description = "wait after SIGTERM before SIGKILL when stopping ranks (default: ${DEFAULT-VALUE})")
    private int graceSeconds;

    @Parameters(arity = "0..*", paramLabel = "COMMAND",
            description = "after --: the cogvideox command each rank runs, e.g. -- train --config run.yaml")
    private List<String> command = new ArrayList<>();

    private final String mainClass;

    /** The launcher of {@code cogvideox} commands. */
    LaunchCommand() {
        this(CogVideoXCli.class.getName());
    }

    /**
     * @param mainClass the class each rank runs (tests start a small main instead of {@link CogVideoXCli}); with
     *     another class than {@link CogVideoXCli} the command is not checked against the CLI's subcommands
     */
    LaunchCommand(String mainClass) {
        this.mainClass = mainClass;
    }

    @Override
    public Integer call() throws Exception {
        validate();
        List<String> jvm = childCommandPrefix();
        List<ProcessBuilder> ranks = new ArrayList<>();
        for (int local = 0; local < nprocPerNode; local++) {
            List<String> cmd = new ArrayList<>(jvm);
            cmd.addAll(command);
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(rankEnvironment(local));
            ranks.add(pb);
        }
        RankSupervisor supervisor = new RankSupervisor(spec.commandLine().getOut(), spec.commandLine().getErr(),
                nodeRank * nprocPerNode, Duration.ofSeconds(graceSeconds));
        return supervisor.run(ranks);
    }

    private void validate() {
        if (nprocPerNode < 1) {
            throw usage("--nproc-per-node must be at least 1, got " + nprocPerNode);
        }
        if (nnodes < 1) {
            throw usage("--nnodes must be at least 1, got " + nnodes);
        }
        if (nodeRank < 0 || nodeRank >= nnodes) {
            throw usage("--node-rank must be in [0, --nnodes=" + nnodes + "), got " + nodeRank);
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw usage("--master-port must be in [1, 65535], got " + masterPort);
        }
        if (masterAddr == null || masterAddr.isBlank()) {
            throw usage("--master-addr is empty");
        }
        if (timeoutSeconds != null && timeoutSeconds <= 0) {
            throw usage("--timeout-seconds must be positive, got " + timeoutSeconds);
        }
        if (graceSeconds < 0) {
            throw usage("--grace-seconds must not be negative, got " + graceSeconds);
        }
        if ((long) nnodes * nprocPerNode > Integer.MAX_VALUE) {
            throw usage("--nnodes x --nproc-per-node is too large");
        }
        if (command.isEmpty()) {
            throw usage("no command after --: say what each rank runs, e.g. cogvideox launch --nproc-per-node 2 "
                    + "-- train --config run.yaml");
        }
        if (mainClass.equals(CogVideoXCli.class.getName())) {
            String first = command.get(0);
            if (first.equals(spec.name())) {
                throw usage("a rank cannot run `launch` itself: give the command after -- (e.g. train)");
            }
            Map<String, picocli.CommandLine> subcommands = spec.root().subcommands();
            if (!first.startsWith("-") && !subcommands.containsKey(first)) {
                throw usage("unknown cogvideox command '" + first + "' after --; one of " + subcommands.keySet());
            }
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** {@code java <shared JVM options> -cp <class path> <main class>}. */
    private List<String> childCommandPrefix() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(shareableJvmOptions(ManagementFactory.getRuntimeMXBean().getInputArguments()));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        return cmd;
    }

    private Map<String, String> rankEnvironment(int localRank) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("RANK", Integer.toString(nodeRank * nprocPerNode + localRank));
        env.put("WORLD_SIZE", Integer.toString(nnodes * nprocPerNode));
        env.put("LOCAL_RANK", Integer.toString(localRank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(nprocPerNode));
        env.put("GROUP_RANK", Integer.toString(nodeRank));
        env.put("MASTER_ADDR", masterAddr);
        env.put("MASTER_PORT", Integer.toString(masterPort));
        env.put("THP_MEM_ALLOC_ENABLE", "1");
        env.put(RankRuntime.LAUNCHER_PID_ENV, Long.toString(ProcessHandle.current().pid()));
        if (timeoutSeconds != null) {
            env.put(RankRuntime.TIMEOUT_ENV, Long.toString(timeoutSeconds));
        }
        return env;
    }

    /**
     * The launcher's JVM options that every rank can share: debugger and agent options (a JDWP or JMX port can be
     * bound once, an agent may write one file) are dropped, and {@code -Dai.djl.offline=true} is added when absent.
     *
     * @param inputArguments the launcher's JVM options
     * @return the ranks' JVM options
     */
    static List<String> shareableJvmOptions(List<String> inputArguments) {
        List<String> shared = new ArrayList<>();
        boolean offline = false;
        for (String a : inputArguments) {
            if (a.startsWith("-agentlib:") || a.startsWith("-agentpath:") || a.startsWith("-javaagent:")
                    || a.equals("-Xdebug") || a.startsWith("-Xrunjdwp") || a.equals("-Xnoagent")
                    || a.startsWith("-Dcom.sun.management.jmxremote.port=")
                    || a.startsWith("-Dcom.sun.management.jmxremote.rmi.port=")) {
                continue;
            }
            offline |= a.startsWith("-Dai.djl.offline=");
            shared.add(a);
        }
        if (!offline) {
            shared.add("-Dai.djl.offline=true");
        }
        return shared;
    }
}
