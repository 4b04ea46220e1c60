package dev.editr1.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumDescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumValueDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.OneofDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;

/**
 * An independent reader of TensorBoard event files for the tests: it checks the TFRecord framing
 * itself (little-endian uint64 length; masked CRC32C of the length and of the payload, computed here
 * from java.util.zip.CRC32C, not by the writer's code) and parses each payload with protobuf's
 * {@link DynamicMessage} against descriptors built here by the field numbers of TensorBoard's
 * {@code tensorboard/compat/proto/event.proto} and {@code summary.proto}.
 */
final class EventFiles {
    private EventFiles() {}

    static final Descriptors.Descriptor EVENT;

    static {
        try {
            DescriptorProto image = DescriptorProto.newBuilder().setName("Image")
                    .addField(field("height", 1, Type.TYPE_INT32, null))
                    .addField(field("width", 2, Type.TYPE_INT32, null))
                    .addField(field("colorspace", 3, Type.TYPE_INT32, null))
                    .addField(field("encoded_image_string", 4, Type.TYPE_BYTES, null)).build();
            DescriptorProto value = DescriptorProto.newBuilder().setName("Value")
                    .addField(field("node_name", 7, Type.TYPE_STRING, null))
                    .addField(field("tag", 1, Type.TYPE_STRING, null))
                    .addOneofDecl(OneofDescriptorProto.newBuilder().setName("value"))   // explicit presence: a 0.0 is still there
                    .addField(field("simple_value", 2, Type.TYPE_FLOAT, null).toBuilder().setOneofIndex(0))
                    .addField(field("image", 4, Type.TYPE_MESSAGE, ".tensorboard.Summary.Image").toBuilder().setOneofIndex(0)).build();
            DescriptorProto summary = DescriptorProto.newBuilder().setName("Summary").addNestedType(image).addNestedType(value)
                    .addField(field("value", 1, Type.TYPE_MESSAGE, ".tensorboard.Summary.Value").toBuilder()
                            .setLabel(Label.LABEL_REPEATED)).build();
            DescriptorProto sessionLog = DescriptorProto.newBuilder().setName("SessionLog")
                    .addEnumType(EnumDescriptorProto.newBuilder().setName("SessionStatus")
                            .addValue(EnumValueDescriptorProto.newBuilder().setName("STATUS_UNSPECIFIED").setNumber(0))
                            .addValue(EnumValueDescriptorProto.newBuilder().setName("START").setNumber(1))
                            .addValue(EnumValueDescriptorProto.newBuilder().setName("STOP").setNumber(2))
                            .addValue(EnumValueDescriptorProto.newBuilder().setName("CHECKPOINT").setNumber(3)))
                    .addField(field("status", 1, Type.TYPE_ENUM, ".tensorboard.SessionLog.SessionStatus"))
                    .addField(field("checkpoint_path", 2, Type.TYPE_STRING, null))
                    .addField(field("msg", 3, Type.TYPE_STRING, null)).build();
            DescriptorProto event = DescriptorProto.newBuilder().setName("Event")
                    .addField(field("wall_time", 1, Type.TYPE_DOUBLE, null))
                    .addField(field("step", 2, Type.TYPE_INT64, null))
                    .addOneofDecl(OneofDescriptorProto.newBuilder().setName("what"))
                    .addField(field("file_version", 3, Type.TYPE_STRING, null).toBuilder().setOneofIndex(0))
                    .addField(field("graph_def", 4, Type.TYPE_BYTES, null).toBuilder().setOneofIndex(0))
                    .addField(field("summary", 5, Type.TYPE_MESSAGE, ".tensorboard.Summary").toBuilder().setOneofIndex(0))
                    .addField(field("session_log", 7, Type.TYPE_MESSAGE, ".tensorboard.SessionLog").toBuilder().setOneofIndex(0))
                    .build();
            FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("tensorboard_subset.proto").setPackage("tensorboard")
                    .setSyntax("proto3").addMessageType(summary).addMessageType(sessionLog).addMessageType(event).build();
            EVENT = Descriptors.FileDescriptor.buildFrom(file, new Descriptors.FileDescriptor[0]).findMessageTypeByName("Event");
        } catch (Descriptors.DescriptorValidationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static FieldDescriptorProto field(String name, int number, Type type, String typeName) {
        FieldDescriptorProto.Builder b = FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
                .setLabel(Label.LABEL_OPTIONAL);
        if (typeName != null) b.setTypeName(typeName);
        return b.build();
    }

    /** A parsed event: its step, wall time and message. */
    record Event(long step, double wallTime, DynamicMessage message) {
        String fileVersion() {
            return (String) message.getField(EVENT.findFieldByName("file_version"));
        }

        boolean hasSummary() {
            return message.hasField(EVENT.findFieldByName("summary"));
        }

        /** The summary's values (empty without a summary). */
        @SuppressWarnings("unchecked")
        List<DynamicMessage> values() {
            if (!hasSummary()) return List.of();
            DynamicMessage s = (DynamicMessage) message.getField(EVENT.findFieldByName("summary"));
            return (List<DynamicMessage>) s.getField(s.getDescriptorForType().findFieldByName("value"));
        }

        /** The session_log status number, or -1 without one. */
        int sessionStatus() {
            Descriptors.FieldDescriptor f = EVENT.findFieldByName("session_log");
            if (!message.hasField(f)) return -1;
            DynamicMessage sl = (DynamicMessage) message.getField(f);
            return ((Descriptors.EnumValueDescriptor) sl.getField(sl.getDescriptorForType().findFieldByName("status"))).getNumber();
        }
    }

    static String tag(DynamicMessage value) {
        return (String) value.getField(value.getDescriptorForType().findFieldByName("tag"));
    }

    static boolean isScalar(DynamicMessage value) {
        return value.hasField(value.getDescriptorForType().findFieldByName("simple_value"));
    }

    static float scalar(DynamicMessage value) {
        return (Float) value.getField(value.getDescriptorForType().findFieldByName("simple_value"));
    }

    /** The image of a value, or null. */
    static DynamicMessage image(DynamicMessage value) {
        Descriptors.FieldDescriptor f = value.getDescriptorForType().findFieldByName("image");
        return value.hasField(f) ? (DynamicMessage) value.getField(f) : null;
    }

    static Object imageField(DynamicMessage image, String name) {
        return image.getField(image.getDescriptorForType().findFieldByName(name));
    }

    /** TFRecord's CRC mask, written out here independently of the writer. */
    static int mask(long crc) {
        long rotated = ((crc >>> 15) | (crc << 17)) & 0xffffffffL;
        return (int) ((rotated + 0xa282ead8L) & 0xffffffffL);
    }

    static int crc(byte[] data, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(data, off, len);
        return mask(c.getValue());
    }

    /** Every record of a file, checked; throws with the offset of the first bad one. */
    static List<Event> read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> out = new ArrayList<>();
        int pos = 0;
        while (pos < all.length) {
            if (pos + 12 > all.length) throw new IOException(file + ": torn header at " + pos);
            long len = b.getLong(pos);
            if (b.getInt(pos + 8) != crc(all, pos, 8)) throw new IOException(file + ": bad length CRC at " + pos);
            if (len < 0 || pos + 12 + len + 4 > all.length) throw new IOException(file + ": torn record at " + pos);
            if (b.getInt(pos + 12 + (int) len) != crc(all, pos + 12, (int) len)) throw new IOException(file + ": bad data CRC at " + pos);
            DynamicMessage m = DynamicMessage.parseFrom(EVENT, ByteString.copyFrom(all, pos + 12, (int) len));
            out.add(new Event((Long) m.getField(EVENT.findFieldByName("step")), (Double) m.getField(EVENT.findFieldByName("wall_time")),
                    m));
            pos += 12 + (int) len + 4;
        }
        return out;
    }

    /** The event files of a folder, in TensorBoard's order (by name). */
    static List<Path> files(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).sorted().toList();
        }
    }
}
