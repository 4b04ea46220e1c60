package dev.editr1.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 in hex, of bytes, files and the keys of conditioning caches. */
public final class Digests {
    private Digests() {}

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(md().digest(bytes));
    }

    public static String sha256(Path file) throws IOException {
        MessageDigest md = md();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * The key of an item in a conditioning cache: SHA-256 of the prompt's UTF-8 bytes, a newline, and
     * the source image's SHA-256 in hex (what tools/cache_*.py compute:
     * {@code sha256(prompt.encode() + b"\n" + image_sha256.encode())}).
     */
    public static String conditioningKey(String prompt, String imageSha256) {
        return sha256((prompt + "\n" + imageSha256).getBytes(StandardCharsets.UTF_8));
    }

    private static MessageDigest md() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
