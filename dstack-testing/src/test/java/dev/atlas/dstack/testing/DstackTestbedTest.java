package dev.atlas.dstack.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.simulator.GuestAgentSimulator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The testbed itself: an allowed app CVM gets its keys from the bootstrapped KMS, a denied one does not boot. */
class DstackTestbedTest {
    @Test
    void allowedAppGetsKeysAndUnknownComposeIsDenied(@TempDir Path dir) throws Exception {
        try (DstackTestbed tb = DstackTestbed.start(dir)) {
            assertThat(tb.kmsRootCaPem()).startsWith("-----BEGIN CERTIFICATE-----");
            byte[] compose = "{\"manifest_version\":2,\"name\":\"tb\",\"runner\":\"bash\",\"bash_script\":\"true\"}"
                    .getBytes(StandardCharsets.UTF_8);
            Path composeFile = Files.write(dir.resolve("app-compose.json"), compose);
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(compose);
            byte[] appId = Arrays.copyOf(hash, 20);
            tb.allowApp(HexFormat.of().formatHex(appId), HexFormat.of().formatHex(hash));
            GuestAgentSimulator app = tb.track(tb.cvmBuilder("app", appId).compose(composeFile).internalSocket(dir.resolve("app.sock")).start());
            assertThat(app.kmsPublicKey()).isPresent();

            byte[] other = "{\"manifest_version\":2,\"name\":\"other\"}".getBytes(StandardCharsets.UTF_8);
            Path otherFile = Files.write(dir.resolve("other-compose.json"), other);
            assertThatThrownBy(() -> tb.cvmBuilder("other", appId).compose(otherFile).internalSocket(dir.resolve("o.sock")).start())
                    .hasMessageContaining("Boot denied");
        }
    }
}
