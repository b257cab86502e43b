package dev.atlas.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * Locates {@code ../shared/testdata} (real Intel-signed samples and dstack fixtures that are never copied
 * into this repository). Tests that need it are skipped (a JUnit assumption, with a message) when it is
 * absent, as in a user's fresh clone. {@code -Datlas.shared.dir=DIR} points at another {@code shared}.
 */
public final class SharedTestData {
    private SharedTestData() {}

    /** The testdata folder; skips the calling test when it is absent. */
    public static Path dir() {
        String prop = System.getProperty("atlas.shared.dir");
        Path p = prop != null ? Path.of(prop, "testdata") : Path.of("..", "..", "shared", "testdata");
        if (!Files.isDirectory(p)) {
            p = Path.of("..", "..", "shared", "testdata");
        }
        assumeTrue(Files.isDirectory(p), "../shared/testdata is absent: skipping tests on real samples");
        return p.normalize();
    }

    public static byte[] bytes(String rel) {
        try {
            return Files.readAllBytes(dir().resolve(rel));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String text(String rel) {
        return new String(bytes(rel), StandardCharsets.UTF_8);
    }

    /** A hex-text quote file (optional {@code 0x}, surrounding whitespace). */
    public static byte[] hexQuote(String rel) {
        String s = text(rel).trim();
        if (s.startsWith("0x")) {
            s = s.substring(2);
        }
        return HexFormat.of().parseHex(s);
    }
}
