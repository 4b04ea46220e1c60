package dev.editr1.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.Tensors;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTrip() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("a.weight", Tensors.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        t.put("b", Tensors.fromFloats(new float[] {-0.5f}, 1));
        Path f = dir.resolve("x.safetensors");
        Safetensors.write(f, t, Map.of("k", "v"));
        assertFalse(Files.exists(dir.resolve("x.safetensors.tmp")), "no temporary file is left behind");
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals("v", c.metadata().get("k"));
        assertArrayEquals(new long[] {2, 3}, Tensors.shape(c.tensors().get("a.weight")));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Tensors.toFloats(c.tensors().get("a.weight")));
        // the header is little-endian length + JSON, as the format says
        byte[] raw = Files.readAllBytes(f);
        long len = java.nio.ByteBuffer.wrap(raw, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertTrue(new String(raw, 8, (int) len, StandardCharsets.UTF_8).contains("\"data_offsets\""));
    }

    @Test
    void corruptFilesAreRefusedWithTheirName() throws IOException {
        Path f = dir.resolve("ok.safetensors");
        Safetensors.write(f, Map.of("w", Tensors.fromFloats(new float[64], 8, 8)), Map.of());
        byte[] raw = Files.readAllBytes(f);
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(raw, raw.length - 17));
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(truncated));
        assertTrue(e.getMessage().contains("truncated.safetensors") && e.getMessage().contains("byte range"), e.getMessage());
        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, "this is not a checkpoint at all".getBytes(StandardCharsets.UTF_8));
        e = assertThrows(IOException.class, () -> Safetensors.read(garbage));
        assertTrue(e.getMessage().contains("garbage.safetensors"), e.getMessage());
        assertThrows(IOException.class, () -> Safetensors.read(dir.resolve("missing.safetensors")));
    }
}
