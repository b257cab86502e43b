package dev.atlas.dstack.gateway.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Jazzer target: the {@code gateway.toml} reader (TOML, the overlay on the shipped values, every typed read, the
 * WireGuard network checks) and the duration grammar. Only {@link RaException} with a reason and a field may
 * escape the reader, only {@link IllegalArgumentException} the duration parser; a loaded config keeps its
 * invariants (client range inside the network, at least one listen port).
 */
class GatewayConfigFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            GatewayConfig c = GatewayConfigReader.read(data, Path.of("/fuzz/gateway.toml"));
            if (c.proxy().listenPorts().isEmpty() || !c.wg().ip().trunc().contains(c.wg().clientIpRange())
                    || c.warnings() == null) {
                throw new AssertionError("a loaded config breaks its invariants");
            }
        } catch (RaException e) {
            if (e.raReason() == null || e.field() == null) {
                throw new AssertionError("a refusal without reason or field");
            }
        }
        try {
            dev.atlas.dstack.ra.config.ConfigTree.parseDuration(new String(data, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException expected) {
            // the grammar's refusals
        }
    }
}
