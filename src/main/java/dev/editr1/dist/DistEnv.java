package dev.editr1.dist;

import java.util.Map;

/**
 * Where this process stands in a multi-process run, read from the torchrun environment contract:
 * {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE} (optional),
 * {@code MASTER_ADDR} and {@code MASTER_PORT}. torchrun sets them for every worker (so does
 * {@code editr1 train --nproc N}, and a Slurm wrapper can export them from {@code SLURM_PROCID},
 * {@code SLURM_NTASKS}, {@code SLURM_LOCALID} and the first host of the allocation).
 *
 * <p>c10d in C++ reads no environment variables itself; this record is the one place editr1 does.
 * torchrun's elastic agent hosts the store itself and says so with
 * {@code TORCHELASTIC_USE_AGENT_STORE=True}: then every rank (rank 0 included) connects to it as a
 * client under the prefix {@code /worker/attempt_<TORCHELASTIC_RESTART_COUNT>}, as PyTorch's own
 * {@code env://} rendezvous does. Otherwise rank 0 hosts the store on MASTER_PORT.
 *
 * @param rank            this process's global rank, 0 ≤ rank &lt; worldSize
 * @param worldSize       how many ranks the run has (1: a plain single-process run)
 * @param localRank       this process's rank on its machine (picks cuda:localRank)
 * @param localWorldSize  ranks on this machine
 * @param masterAddr      the store's host
 * @param masterPort      the store's port
 * @param agentStorePrefix the store prefix when torchrun's agent hosts the store, else null
 * @param launcherPid     the pid of an {@code editr1 train --nproc} launcher to outlive never, or -1
 */
public record DistEnv(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr, int masterPort,
                      String agentStorePrefix, long launcherPid) {
    /** The variable {@code editr1 train --nproc} sets so its ranks stop when it is gone. */
    public static final String LAUNCHER_PID = "EDITR1_LAUNCHER_PID";

    /** One process, no store. */
    public static DistEnv single() {
        return new DistEnv(0, 1, 0, 1, "", 0, null, -1);
    }

    /** More than one rank: the run needs a process group. */
    public boolean distributed() {
        return worldSize > 1;
    }

    /** Whether this rank hosts the store (rank 0, unless torchrun's agent does). */
    public boolean hostsStore() {
        return rank == 0 && agentStorePrefix == null;
    }

    /** This process's environment. */
    public static DistEnv fromEnvironment() {
        return from(System.getenv());
    }

    /**
     * Reads the torchrun variables from an environment. With neither RANK nor WORLD_SIZE set the
     * run is a single process; WORLD_SIZE=1 is too (no store, no process group).
     *
     * @throws IllegalArgumentException naming the variable that is missing or wrong
     */
    public static DistEnv from(Map<String, String> env) {
        String rs = env.get("RANK"), ws = env.get("WORLD_SIZE");
        if (blank(rs) && blank(ws)) return single();
        if (blank(ws)) throw new IllegalArgumentException("RANK is set but WORLD_SIZE is not (the torchrun variables: RANK, "
                + "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)");
        int world = integer(env, "WORLD_SIZE", 1, 1 << 20);
        if (world == 1) return single();
        if (blank(rs)) throw new IllegalArgumentException("WORLD_SIZE is " + world + " but RANK is not set");
        int rank = integer(env, "RANK", 0, world - 1);
        int localRank = blank(env.get("LOCAL_RANK")) ? -1 : integer(env, "LOCAL_RANK", 0, world - 1);
        int localWorld = blank(env.get("LOCAL_WORLD_SIZE")) ? -1 : integer(env, "LOCAL_WORLD_SIZE", 1, world);
        if (localRank < 0) {
            // a hand-set environment may leave it out: all ranks on one machine is the only safe guess
            localRank = rank;
        }
        if (localWorld < 0) localWorld = Math.max(localRank + 1, world);
        if (localRank >= localWorld)
            throw new IllegalArgumentException("LOCAL_RANK (" + localRank + ") must be below LOCAL_WORLD_SIZE (" + localWorld + ")");
        String addr = env.get("MASTER_ADDR");
        if (blank(addr)) throw new IllegalArgumentException("WORLD_SIZE is " + world + " but MASTER_ADDR is not set (the host of "
                + "rank 0, or of torchrun's agent)");
        int port = integer(env, "MASTER_PORT", 1, 65535);
        String prefix = null;
        if ("true".equalsIgnoreCase(String.valueOf(env.get("TORCHELASTIC_USE_AGENT_STORE")).trim())) {
            String attempt = env.getOrDefault("TORCHELASTIC_RESTART_COUNT", "0").trim();
            prefix = "/worker/attempt_" + (attempt.isEmpty() ? "0" : attempt);
        }
        long launcher = -1;
        String lp = env.get(LAUNCHER_PID);
        if (!blank(lp))
            try {
                launcher = Long.parseLong(lp.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(LAUNCHER_PID + " is not a process id: '" + lp + "'");
            }
        return new DistEnv(rank, world, localRank, localWorld, addr.trim(), port, prefix, launcher);
    }

    /** One line for logs. */
    public String describe() {
        if (!distributed()) return "single process";
        return "rank " + rank + " of " + worldSize + " (local rank " + localRank + " of " + localWorldSize + "), store "
                + masterAddr + ":" + masterPort + (agentStorePrefix != null ? " (torchrun's agent, " + agentStorePrefix + ")"
                : hostsStore() ? " (hosted here)" : " (hosted by rank 0)");
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    private static int integer(Map<String, String> env, String name, int min, int max) {
        String s = env.get(name);
        int v;
        try {
            v = Integer.parseInt(s.trim());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(name + " is not an integer: '" + s + "'");
        }
        if (v < min || v > max)
            throw new IllegalArgumentException(name + " is " + v + "; it must lie in [" + min + ", " + max + "]");
        return v;
    }
}
