package dev.editr1.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The torchrun environment contract, and the launcher's argument handling. */
class DistEnvTest {
    static Map<String, String> env(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    @Test
    void noVariablesOrOneRankIsASingleProcess() {
        assertFalse(DistEnv.from(env()).distributed());
        assertFalse(DistEnv.from(env("RANK", "0", "WORLD_SIZE", "1")).distributed());
    }

    @Test
    void torchrunVariables() {
        DistEnv e = DistEnv.from(env("RANK", "5", "WORLD_SIZE", "16", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "8",
                "MASTER_ADDR", "node0", "MASTER_PORT", "29500"));
        assertTrue(e.distributed());
        assertEquals(5, e.rank());
        assertEquals(16, e.worldSize());
        assertEquals(1, e.localRank());
        assertEquals(8, e.localWorldSize());
        assertEquals("node0", e.masterAddr());
        assertEquals(29500, e.masterPort());
        assertNull(e.agentStorePrefix());
        assertFalse(e.hostsStore());
        assertTrue(DistEnv.from(env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1")).hostsStore());
    }

    @Test
    void torchrunsAgentStoreIsUsedAsPyTorchUsesIt() {
        DistEnv e = DistEnv.from(env("RANK", "0", "WORLD_SIZE", "2", "LOCAL_RANK", "0", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT",
                "29400", "TORCHELASTIC_USE_AGENT_STORE", "True", "TORCHELASTIC_RESTART_COUNT", "2"));
        assertEquals("/worker/attempt_2", e.agentStorePrefix());
        assertFalse(e.hostsStore(), "rank 0 connects to the agent's store instead of hosting one");
    }

    @Test
    void aMissingOrWrongVariableIsNamed() {
        Object[][] cases = {
                {env("RANK", "0"), "WORLD_SIZE is not"},
                {env("WORLD_SIZE", "2"), "RANK is not set"},
                {env("RANK", "2", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1"), "RANK is 2"},
                {env("RANK", "x", "WORLD_SIZE", "2"), "RANK is not an integer"},
                {env("RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", "1"), "MASTER_ADDR is not set"},
                {env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a"), "MASTER_PORT is not an integer"},
                {env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "70000"), "MASTER_PORT is 70000"},
                {env("RANK", "1", "WORLD_SIZE", "4", "LOCAL_RANK", "2", "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT",
                        "1"), "LOCAL_RANK (2) must be below LOCAL_WORLD_SIZE (2)"},
        };
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            Map<String, String> m = (Map<String, String>) c[0];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DistEnv.from(m), m.toString());
            assertTrue(e.getMessage().contains((String) c[1]), m + ": " + e.getMessage());
        }
    }

    @Test
    void theLauncherDropsNprocAndKeepsTheRest() {
        assertEquals(List.of("train", "--set", "seed=3", "--out", "x"),
                Launcher.withoutNproc(List.of("train", "--nproc", "2", "--set", "seed=3", "--out", "x")));
        assertEquals(List.of("train", "--epochs", "2"), Launcher.withoutNproc(List.of("train", "--nproc=4", "--epochs", "2")));
    }
}
