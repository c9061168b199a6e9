package io.github.cogvideox4j.core.dist;

import com.google.common.base.Preconditions;
import java.util.Map;

/**
 * Where this process stands in a multi-process run, read from the torchrun-style variables that {@code cogvideox
 * launch}, torchrun, Slurm scripts and Kubernetes operators set: {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK},
 * {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}.
 *
 * <p>Thread safety: immutable.
 *
 * @param rank global rank in {@code [0, worldSize)}
 * @param worldSize number of ranks, positive
 * @param localRank rank on this machine, in {@code [0, localWorldSize)}
 * @param localWorldSize ranks on this machine, positive
 * @param masterAddr host of rank 0's rendezvous store
 * @param masterPort TCP port of the rendezvous store, in {@code [1, 65535]}
 */
public record DistributedEnvironment(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr,
        int masterPort) {
    /** Default store port, as torchrun's. */
    public static final int DEFAULT_PORT = 29500;

    /** Validates the values. */
    public DistributedEnvironment {
        Preconditions.checkArgument(worldSize > 0, "WORLD_SIZE must be positive, got %s", worldSize);
        Preconditions.checkArgument(rank >= 0 && rank < worldSize, "RANK %s is out of [0, WORLD_SIZE=%s)", rank,
                worldSize);
        Preconditions.checkArgument(localWorldSize > 0, "LOCAL_WORLD_SIZE must be positive, got %s", localWorldSize);
        Preconditions.checkArgument(localRank >= 0 && localRank < localWorldSize,
                "LOCAL_RANK %s is out of [0, LOCAL_WORLD_SIZE=%s)", localRank, localWorldSize);
        Preconditions.checkArgument(masterAddr != null && !masterAddr.isBlank(), "MASTER_ADDR is empty");
        Preconditions.checkArgument(masterPort > 0 && masterPort < 65536, "MASTER_PORT %s is out of [1, 65535]",
                masterPort);
    }

    /** @return the environment of a process that runs alone */
    public static DistributedEnvironment single() {
        return new DistributedEnvironment(0, 1, 0, 1, "127.0.0.1", DEFAULT_PORT);
    }

    /** @return this process's environment ({@link System#getenv()}) */
    public static DistributedEnvironment fromSystem() {
        return from(System.getenv());
    }

    /**
     * Reads the variables. Without {@code WORLD_SIZE} (or with 1) the process runs alone.
     *
     * @param env the variables
     * @return the environment
     * @throws IllegalArgumentException naming the variable when one is missing, not a number or out of range
     */
    public static DistributedEnvironment from(Map<String, String> env) {
        int world = intOf(env, "WORLD_SIZE", 1);
        if (world == 1 && !env.containsKey("RANK")) {
            return single();
        }
        Preconditions.checkArgument(env.containsKey("RANK"), "WORLD_SIZE=%s is set but RANK is not", world);
        int rank = intOf(env, "RANK", 0);
        int localRank = intOf(env, "LOCAL_RANK", 0);
        // torchrun-style launchers set both; with LOCAL_RANK alone, the machine may hold every rank
        int localWorld = intOf(env, "LOCAL_WORLD_SIZE", env.containsKey("LOCAL_RANK") ? world : 1);
        String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1");
        int port = intOf(env, "MASTER_PORT", DEFAULT_PORT);
        return new DistributedEnvironment(rank, world, localRank, localWorld, addr, port);
    }

    /** @return whether more than one rank takes part */
    public boolean isDistributed() {
        return worldSize > 1;
    }

    private static int intOf(Map<String, String> env, String name, int fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + v + "'", e);
        }
    }
}
