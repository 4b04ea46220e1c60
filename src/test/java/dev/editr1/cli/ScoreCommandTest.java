package dev.editr1.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.data.ImageCodec;
import dev.editr1.reward.LoopbackJudgeServer;
import dev.editr1.world.Palette;
import dev.editr1.world.Renderer;
import dev.editr1.world.Scene;

class ScoreCommandTest {
    static Path png(Path dir, String name, Scene s) throws Exception {
        Path f = dir.resolve(name);
        Files.write(f, ImageCodec.encode(new Renderer(18).render(s), 18, dev.editr1.data.ImageFormat.PNG));
        return f;
    }

    static Scene scene(String colour) {
        return new Scene("black", java.util.List.of(new Scene.Shape(Palette.Kind.CROSS, colour, 4)));
    }

    @Test
    void scoresThroughAnHttpJudgeAndTheSimulatedOne(@TempDir Path tmp) throws Exception {
        Path src = png(tmp, "src.png", scene("green")), ed = png(tmp, "ed.png", scene("blue"));
        try (LoopbackJudgeServer server = new LoopbackJudgeServer(n -> new Object[] {200, LoopbackJudgeServer.normal()})) {
            TrainCommandTest.Out r = TrainCommandTest.run("score", "--judge", server.url(), "--judge-model", "judge", "--source",
                    src.toString(), "--edited", ed.toString(), "--instruction", "make the cross blue", "--json");
            assertEquals(0, r.code(), r.err());
            JsonObject o = JsonParser.parseString(r.out().trim()).getAsJsonObject();
            assertEquals(6, o.getAsJsonArray("probs").size());
            assertTrue(o.get("score").getAsDouble() > 0.6 && o.get("score").getAsDouble() < 1, r.out());
        }
        TrainCommandTest.Out sim = TrainCommandTest.run("score", "--source", src.toString(), "--edited", ed.toString(),
                "--target", ed.toString(), "--instruction", "make the cross blue");
        assertEquals(0, sim.code(), sim.err());
        assertTrue(sim.out().contains("score 0.9") || sim.out().contains("score 1.0"), "a perfect edit: " + sim.out());
    }

    @Test
    void unreachableOrGarbageJudgesGiveNoScore(@TempDir Path tmp) throws Exception {
        Path src = png(tmp, "src.png", scene("green")), ed = png(tmp, "ed.png", scene("blue"));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        TrainCommandTest.Out refused = TrainCommandTest.run("score", "--judge", "http://127.0.0.1:" + port + "/v1", "--judge-model",
                "judge", "--retries", "0", "--source", src.toString(), "--edited", ed.toString(), "--instruction", "x");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("no score: cannot connect"), refused.err());
        assertFalse(refused.out().contains("score"), refused.out());
        try (LoopbackJudgeServer server = new LoopbackJudgeServer(n -> new Object[] {200, "<html>not json</html>"})) {
            TrainCommandTest.Out garbage = TrainCommandTest.run("score", "--judge", server.url(), "--judge-model", "judge",
                    "--source", src.toString(), "--edited", ed.toString(), "--instruction", "x");
            assertEquals(1, garbage.code());
            assertTrue(garbage.err().contains("malformed"), garbage.err());
        }
        TrainCommandTest.Out noTarget = TrainCommandTest.run("score", "--source", src.toString(), "--edited", ed.toString(),
                "--instruction", "x");
        assertEquals(1, noTarget.code());
        assertTrue(noTarget.err().contains("--target"), noTarget.err());
    }

    @Test
    void calibrateRunsOutOfTheBox() {
        TrainCommandTest.Out r = TrainCommandTest.run("calibrate");
        assertEquals(0, r.code(), r.err());
        for (String m : new String[] {"score-logit", "yes/no-logit", "greedy digit", "sampled digit"})
            assertTrue(r.out().contains(m), r.out());
    }
}
