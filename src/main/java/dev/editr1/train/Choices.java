package dev.editr1.train;

import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import com.google.gson.TypeAdapter;
import com.google.gson.TypeAdapterFactory;
import com.google.gson.reflect.TypeToken;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;

/**
 * Configuration choices are enums, written in files and on the command line by their labels: the
 * constant's name in lower case with '_' as '-' ({@code FLUX_KONTEXT} → {@code flux-kontext}).
 * Parsed once, where the configuration is read; an unknown label is an error that lists the choices.
 */
public final class Choices {
    private Choices() {}

    public static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static <E extends Enum<E>> String labels(Class<E> type) {
        return Arrays.stream(type.getEnumConstants()).map(Choices::label).collect(Collectors.joining(", "));
    }

    /** The constant with this label (or name, case-insensitive). */
    public static <E extends Enum<E>> E parse(Class<E> type, String what, String s) {
        if (s != null)
            for (E e : type.getEnumConstants())
                if (label(e).equalsIgnoreCase(s.trim()) || e.name().equalsIgnoreCase(s.trim())) return e;
        throw new IllegalArgumentException("unknown " + what + " '" + s + "' (" + labels(type) + ")");
    }

    /** Gson that reads and writes every enum by its label and refuses unknown labels. */
    public static Gson gson(boolean pretty) {
        GsonBuilder b = new GsonBuilder().serializeSpecialFloatingPointValues().registerTypeAdapterFactory(new Factory());
        return (pretty ? b.setPrettyPrinting() : b).create();
    }

    private static final class Factory implements TypeAdapterFactory {
        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public <T> TypeAdapter<T> create(Gson gson, TypeToken<T> type) {
            Class<? super T> raw = type.getRawType();
            if (!Enum.class.isAssignableFrom(raw) || raw == Enum.class) return null;
            Class<? extends Enum> e = (Class<? extends Enum>) (raw.isEnum() ? raw : raw.getSuperclass());
            return (TypeAdapter<T>) new TypeAdapter<Enum>() {
                @Override
                public void write(JsonWriter out, Enum value) throws IOException {
                    if (value == null) out.nullValue();
                    else out.value(label(value));
                }

                @Override
                public Enum read(JsonReader in) throws IOException {
                    if (in.peek() == JsonToken.NULL) {
                        in.nextNull();
                        return null;
                    }
                    String s = in.nextString();
                    try {
                        return parse(e, e.getSimpleName(), s);
                    } catch (IllegalArgumentException ex) {
                        throw new JsonParseException(ex.getMessage());
                    }
                }
            };
        }
    }
}
