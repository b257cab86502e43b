package dev.atlas.dstack;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates {@code ../shared/testdata} (real Intel-signed samples that are never copied into this repo).
 * Tests that need it are skipped, with a message, when it is absent (a user's fresh clone).
 */
final class SharedTestData {
    private SharedTestData() {}

    static Path dir() {
        String prop = System.getProperty("atlas.shared.dir");
        Path p = prop != null ? Path.of(prop, "testdata") : Path.of("..", "..", "shared", "testdata");
        if (!Files.isDirectory(p)) {
            p = Path.of("..", "..", "shared", "testdata");
        }
        assumeTrue(Files.isDirectory(p), "../shared/testdata is absent: skipping tests on real Intel samples");
        return p.normalize();
    }

    static byte[] bytes(String rel) {
        try {
            return Files.readAllBytes(dir().resolve(rel));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(String rel) {
        return new String(bytes(rel), StandardCharsets.UTF_8);
    }

    static byte[] hexQuote(String rel) {
        String s = text(rel).trim();
        if (s.startsWith("0x")) {
            s = s.substring(2);
        }
        return dev.atlas.tdx.internal.Hex.decode(s);
    }
}
