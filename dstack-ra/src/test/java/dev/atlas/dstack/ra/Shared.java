package dev.atlas.dstack.ra;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Locates {@code ../shared/testdata/dstack}; skips the calling test (with a message) when it is absent. */
final class Shared {
    private Shared() {}

    static Path dstack() {
        String prop = System.getProperty("atlas.shared.dir");
        Path p = prop != null ? Path.of(prop, "testdata", "dstack") : Path.of("..", "..", "shared", "testdata", "dstack");
        if (!Files.isDirectory(p)) {
            p = Path.of("..", "..", "shared", "testdata", "dstack");
        }
        assumeTrue(Files.isDirectory(p), "../shared/testdata/dstack is absent: skipping tests on dstack fixtures");
        return p.normalize();
    }

    static byte[] bytes(String rel) {
        Path f = dstack().resolve(rel);
        assumeTrue(Files.isRegularFile(f), rel + " is absent: skipping");
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(String rel) {
        return new String(bytes(rel), StandardCharsets.UTF_8);
    }
}
