package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.protobuf.ByteString;
import com.google.protobuf.DynamicMessage;

/** Event files read back by the independent reader ({@link EventFiles}): framing, CRCs, messages, truncation on resume. */
class TensorBoardWriterTest {
    @Test
    void maskedCrcMatchesKnownAnswers() {
        // CRC32C("123456789") = 0xE3069283 (the standard check value); the mask rotates right by 15 and adds 0xa282ead8
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(check);
        assertEquals(0xE3069283L, c.getValue());
        long rot = ((0xE3069283L >>> 15) | (0xE3069283L << 17)) & 0xffffffffL;
        assertEquals((int) ((rot + 0xa282ead8L) & 0xffffffffL), TensorBoardWriter.maskedCrc32c(check, 0, check.length));
        assertEquals(EventFiles.crc(check, 0, check.length), TensorBoardWriter.maskedCrc32c(check, 0, check.length));
        // the empty payload's record: length 0, its CRC, no bytes, the CRC of nothing
        byte[] rec = TensorBoardWriter.record(new byte[0]);
        assertEquals(16, rec.length);
        assertEquals(EventFiles.mask(0), java.nio.ByteBuffer.wrap(rec, 12, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt());
    }

    @Test
    void scalarsImagesAndSessionLogReadBack(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("tb");
        BufferedImage img = new BufferedImage(7, 5, BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 2, 0xff8000);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        Path file;
        try (TensorBoardWriter w = TensorBoardWriter.open(dir)) {
            file = w.file();
            Map<String, Double> s = new LinkedHashMap<>();
            s.put("train/reward_mean", 0.5312);
            s.put("train/kl", 1.25e-4);
            s.put("train/true_quality", Double.NaN);   // left out
            s.put("train/unscored", 0.0);              // written, and read back (simple_value is in a oneof: explicit presence)
            w.scalars(1, s);
            w.scalars(2, Map.of("train/reward_mean", -3.5));
            w.image(2, "heldout/grid", png.toByteArray(), 7, 5, false);
            w.sessionStart(3);
        }
        assertTrue(file.getFileName().toString().matches("events\\.out\\.tfevents\\.\\d+\\..+"), file.toString());
        List<EventFiles.Event> ev = EventFiles.read(file);
        assertEquals(5, ev.size());
        assertEquals(TensorBoardWriter.FILE_VERSION, ev.get(0).fileVersion());
        assertEquals(0, ev.get(0).step());
        assertTrue(Math.abs(ev.get(0).wallTime() - System.currentTimeMillis() / 1000.0) < 600, "wall time in seconds");

        List<DynamicMessage> v1 = ev.get(1).values();
        assertEquals(1, ev.get(1).step());
        assertEquals(List.of("train/reward_mean", "train/kl", "train/unscored"), v1.stream().map(EventFiles::tag).toList());
        assertTrue(EventFiles.isScalar(v1.get(2)));
        assertEquals(0f, EventFiles.scalar(v1.get(2)));
        assertEquals(0.5312f, EventFiles.scalar(v1.get(0)));
        assertEquals(1.25e-4f, EventFiles.scalar(v1.get(1)));
        assertEquals(-3.5f, EventFiles.scalar(ev.get(2).values().get(0)));

        DynamicMessage im = EventFiles.image(ev.get(3).values().get(0));
        assertEquals("heldout/grid", EventFiles.tag(ev.get(3).values().get(0)));
        assertFalse(EventFiles.isScalar(ev.get(3).values().get(0)));
        assertEquals(5, EventFiles.imageField(im, "height"));
        assertEquals(7, EventFiles.imageField(im, "width"));
        assertEquals(3, EventFiles.imageField(im, "colorspace"));
        byte[] bytes = ((ByteString) EventFiles.imageField(im, "encoded_image_string")).toByteArray();
        assertArrayEquals(png.toByteArray(), bytes);
        assertEquals(0xff8000, ImageIO.read(new java.io.ByteArrayInputStream(bytes)).getRGB(3, 2) & 0xffffff);

        assertEquals(3, ev.get(4).step());
        assertEquals(TensorBoardWriter.SESSION_START, ev.get(4).sessionStatus());
        assertNull(EventFiles.image(v1.get(0)));
    }

    @Test
    void aCorruptByteIsCaughtByTheReader(@TempDir Path tmp) throws IOException {
        Path file;
        try (TensorBoardWriter w = TensorBoardWriter.open(tmp)) {
            file = w.file();
            w.scalars(1, Map.of("a", 1.0));
        }
        byte[] b = Files.readAllBytes(file);
        b[b.length - 6] ^= 1;   // a payload byte of the last record
        Files.write(file, b);
        IOException e = assertThrows(IOException.class, () -> EventFiles.read(file));
        assertTrue(e.getMessage().contains("bad data CRC"), e.getMessage());
    }

    @Test
    void truncateKeepsEarlierStepsAndDropsATornTail(@TempDir Path tmp) throws IOException {
        Path file;
        try (TensorBoardWriter w = TensorBoardWriter.open(tmp)) {
            file = w.file();
            for (int step = 1; step <= 6; step++) w.scalars(step, Map.of("x", (double) step));
        }
        byte[] b = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(b, b.length - 5));   // a crash mid-record
        assertThrows(IOException.class, () -> EventFiles.read(file));
        assertEquals(2, TensorBoardWriter.truncate(tmp, 4));   // step 5, and step 6 torn
        List<EventFiles.Event> ev = EventFiles.read(file);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L), ev.stream().map(EventFiles.Event::step).toList());
        assertEquals(0, TensorBoardWriter.truncate(tmp, 4), "nothing more to drop");
        try (TensorBoardWriter w = TensorBoardWriter.open(tmp)) {   // a second file in the same second gets a suffix
            assertFalse(w.file().equals(file));
        }
        assertEquals(2, EventFiles.files(tmp).size());
    }
}
