package dev.atlas.dstack.kms.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcRequest;
import dev.atlas.dstack.ra.prpc.PrpcResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code Admin.ClearImageCache}: one entry, all, empty no-op, non-hex refused before anything is removed. */
class AdminRpcTest {
    @TempDir
    Path cache;

    private PrpcResponse clear(PrpcDispatcher d, String body) {
        return d.dispatch(PrpcRequest.of("POST", "/Admin.ClearImageCache?json", body.getBytes(StandardCharsets.UTF_8),
                Map.of()));
    }

    @Test
    void clearImageCache() throws Exception {
        Path images = Files.createDirectories(cache.resolve("images"));
        Path keep = Files.createDirectories(images.resolve("cafe"));
        Path drop = Files.createDirectories(images.resolve("beef"));
        Files.writeString(drop.resolve("image.tar"), "x");
        Path mr = Files.createDirectories(cache.resolve("measurements"));
        Files.writeString(mr.resolve("abcd"), "{}");
        Path outside = Files.writeString(cache.resolve("outside"), "keep");
        PrpcDispatcher d = AdminRpc.dispatcher(cache);

        assertEquals(200, clear(d, "{\"image_hash\":\"beef\",\"config_hash\":\"\"}").status());
        assertFalse(Files.exists(drop));
        assertTrue(Files.exists(keep));
        assertTrue(Files.exists(mr.resolve("abcd")));

        assertEquals(200, clear(d, "{}").status(), "empty names are a no-op");
        assertTrue(Files.exists(keep));

        PrpcResponse bad = clear(d, "{\"image_hash\":\"../outside\",\"config_hash\":\"abcd\"}");
        assertEquals(400, bad.status());
        assertTrue(bad.bodyText().contains("failed to clear image cache: invalid cache key"), bad.bodyText());
        assertTrue(Files.exists(outside) && Files.exists(mr.resolve("abcd")));

        PrpcResponse badMr = clear(d, "{\"config_hash\":\"zz\"}");
        assertTrue(badMr.bodyText().contains("failed to clear measurement cache: invalid cache key"));

        assertEquals(200, clear(d, "{\"image_hash\":\"all\",\"config_hash\":\"ABCD\"}").status());
        assertFalse(Files.exists(images));
        assertTrue(Files.exists(mr.resolve("abcd")), "case matters on the file system: ABCD is another entry");
        assertEquals(200, clear(d, "{\"config_hash\":\"abcd\"}").status());
        assertFalse(Files.exists(mr.resolve("abcd")));
        assertTrue(Files.exists(outside));
    }
}
