package dev.editr1.train;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;

/**
 * TensorBoard event files, so {@code tensorboard --logdir runs/} shows a run live (and wandb and
 * other dashboards import them).
 *
 * <p>A file {@code events.out.tfevents.<unix seconds>.<host>} is a sequence of records — TFRecord
 * framing: the payload length as a little-endian uint64, the masked CRC32C of those 8 bytes
 * (uint32 LE), the payload, the masked CRC32C of the payload — whose payloads are serialized
 * {@code tensorboard.Event} messages. The first record is the {@code file_version} event
 * ("brain.Event:2"). The messages are encoded with protobuf-java's {@link CodedOutputStream} by the
 * field numbers of TensorBoard's {@code event.proto} and {@code summary.proto}:
 * <pre>
 * Event         { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5;
 *                 SessionLog session_log = 7; } }
 * Summary       { repeated Value value = 1; }
 * Summary.Value { string tag = 1; oneof { float simple_value = 2; Image image = 4; } }
 * Summary.Image { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
 * SessionLog    { SessionStatus status = 1; }   // START = 1
 * </pre>
 * Each {@link #scalars} or {@link #image} call is one record, flushed at once, so a crash loses at
 * most the record being written (a torn tail that {@link #truncate} drops on resume).
 */
public final class TensorBoardWriter implements Closeable {
    public static final String FILE_VERSION = "brain.Event:2";
    /** SessionLog.SessionStatus.START: TensorBoard drops data at or after this event's step from earlier files. */
    static final int SESSION_START = 1;
    private static final int COLORSPACE_RGB = 3, COLORSPACE_RGBA = 4;

    private final Path file;
    private final OutputStream out;

    private TensorBoardWriter(Path file) throws IOException {
        this.file = file;
        this.out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        write(event(0, e -> e.writeString(3, FILE_VERSION)));
    }

    /**
     * Opens a new event file in dir, named as TensorBoard expects, and writes the file_version record.
     * A second file started within the same second gets a numeric suffix.
     */
    public static TensorBoardWriter open(Path dir) throws IOException {
        Files.createDirectories(dir);
        String base = String.format(Locale.ROOT, "events.out.tfevents.%d.%s", System.currentTimeMillis() / 1000, host());
        Path f = dir.resolve(base);
        for (int i = 1; Files.exists(f); i++) f = dir.resolve(base + "." + i);
        return new TensorBoardWriter(f);
    }

    private static String host() {
        try {
            String h = InetAddress.getLocalHost().getHostName();
            return h == null || h.isBlank() ? "localhost" : h.replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException | RuntimeException e) {
            return "localhost";
        }
    }

    public Path file() {
        return file;
    }

    /** One Summary event at step with a simple_value per tag; NaN values are left out (a gap, not a point). */
    public void scalars(long step, Map<String, Double> values) throws IOException {
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        CodedOutputStream s = CodedOutputStream.newInstance(summary);
        for (Map.Entry<String, Double> v : values.entrySet()) {
            if (v.getValue() == null || Double.isNaN(v.getValue())) continue;
            s.writeByteArray(1, message(val -> {
                val.writeString(1, v.getKey());
                val.writeFloat(2, v.getValue().floatValue());
            }));
        }
        s.flush();
        write(event(step, e -> e.writeByteArray(5, summary.toByteArray())));
    }

    /** One Summary event at step with an encoded image (PNG bytes) of the given size. */
    public void image(long step, String tag, byte[] png, int width, int height, boolean alpha) throws IOException {
        byte[] image = message(im -> {
            im.writeInt32(1, height);
            im.writeInt32(2, width);
            im.writeInt32(3, alpha ? COLORSPACE_RGBA : COLORSPACE_RGB);
            im.writeByteArray(4, png);
        });
        byte[] value = message(val -> {
            val.writeString(1, tag);
            val.writeByteArray(4, image);
        });
        write(event(step, e -> e.writeByteArray(5, message(s -> s.writeByteArray(1, value)))));
    }

    /**
     * A SessionLog START at step: a resumed run writes it first, so a TensorBoard that had read
     * events of the epochs now run again from an earlier file forgets them.
     */
    public void sessionStart(long step) throws IOException {
        write(event(step, e -> e.writeByteArray(7, message(sl -> sl.writeEnum(1, SESSION_START)))));
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    // ---------------------------------------------------------------------------------------------
    // messages and records

    private interface Fields {
        void write(CodedOutputStream out) throws IOException;
    }

    private static byte[] message(Fields f) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        CodedOutputStream c = CodedOutputStream.newInstance(b);
        f.write(c);
        c.flush();
        return b.toByteArray();
    }

    private static byte[] event(long step, Fields what) throws IOException {
        double wall = System.currentTimeMillis() / 1000.0;
        return message(e -> {
            e.writeDouble(1, wall);
            e.writeInt64(2, step);
            what.write(e);
        });
    }

    private void write(byte[] payload) throws IOException {
        out.write(record(payload));
        out.flush();
    }

    /** One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload. */
    static byte[] record(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(payload.length);
        b.putInt(maskedCrc32c(b.array(), 0, 8));
        b.put(payload);
        b.putInt(maskedCrc32c(payload, 0, payload.length));
        return b.array();
    }

    /** TFRecord's masked CRC32C: rotate right by 15 and add 0xa282ead8 (a CRC of data that holds CRCs is then not trivial). */
    static int maskedCrc32c(byte[] data, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(data, off, len);
        int crc = (int) c.getValue();
        return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    }

    // ---------------------------------------------------------------------------------------------
    // resume

    /**
     * Rewrites every event file in dir to keep only events with step ≤ lastStep (a resumed run writes
     * the later epochs again) and drops a torn or corrupt tail. Returns the number of events dropped.
     */
    public static int truncate(Path dir, long lastStep) throws IOException {
        if (!Files.isDirectory(dir)) return 0;
        int dropped = 0;
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).sorted().toList();
        }
        for (Path f : files) {
            byte[] all = Files.readAllBytes(f);
            ByteArrayOutputStream kept = new ByteArrayOutputStream();
            List<byte[]> payloads = new ArrayList<>();
            int pos = 0;
            ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            while (pos + 12 <= all.length) {
                long len = b.getLong(pos);
                if (b.getInt(pos + 8) != maskedCrc32c(all, pos, 8) || len < 0 || pos + 16 + len > all.length) break;
                int end = pos + 12 + (int) len;
                if (b.getInt(end) != maskedCrc32c(all, pos + 12, (int) len)) break;
                payloads.add(java.util.Arrays.copyOfRange(all, pos + 12, end));
                pos = end + 4;
            }
            int keep = 0;
            for (byte[] p : payloads)
                if (step(p) <= lastStep) {
                    kept.write(record(p));
                    keep++;
                }
            int lost = payloads.size() - keep + (pos < all.length ? 1 : 0);   // a torn tail counts as one
            if (lost == 0) continue;
            dropped += lost;
            Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
            Files.write(tmp, kept.toByteArray());
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return dropped;
    }

    /** The step (field 2) of a serialized Event; 0 when absent or unreadable. */
    static long step(byte[] event) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(event);
            for (int tag; (tag = in.readTag()) != 0; ) {
                if (tag == (2 << 3)) return in.readInt64();
                in.skipField(tag);
            }
        } catch (IOException e) {
            return 0;
        }
        return 0;
    }
}
