package dev.atlas.proxy;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.proxy.internal.FrontendHandler;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Jazzer target for the proxy's parsers of untrusted text: the upgrade request's query string, the target
 * syntax, allowlist entries and CIDRs (the first byte picks one). Only the documented exceptions may escape,
 * and every accepted target normalizes to a fixed point. Seeds:
 * {@code src/test/resources/dev/atlas/proxy/ProxyParsersFuzzTestInputs}.
 */
class ProxyParsersFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        String s = new String(Arrays.copyOfRange(data, 1, data.length), StandardCharsets.UTF_8);
        switch ((data[0] & 0xff) % 4) {
            case 0 -> {
                try {
                    for (String t : FrontendHandler.targetParameters(s)) {
                        target(t);
                    }
                } catch (IllegalArgumentException expected) {
                    // an undecodable query string
                }
            }
            case 1 -> target(s);
            case 2 -> {
                try {
                    TargetAddress e = TargetAddress.parseEntry(s);
                    if (!TargetAddress.parseEntry(e.toString()).equals(e)) {
                        throw new AssertionError("entry normalization is not a fixed point: " + e);
                    }
                } catch (InvalidTargetException expected) {
                    // refused
                }
            }
            default -> {
                try {
                    IpRange.parse(s);
                } catch (IllegalArgumentException expected) {
                    // refused
                }
            }
        }
    }

    private static void target(String s) {
        try {
            TargetAddress t = TargetAddress.parse(s);
            if (!TargetAddress.parse(t.toString()).equals(t)) {
                throw new AssertionError("normalization is not a fixed point: " + t);
            }
            if (!t.toString().matches("[a-z0-9.\\-:\\[\\]]+")) {
                throw new AssertionError("normalized target has unexpected characters: " + t);
            }
        } catch (InvalidTargetException expected) {
            // refused
        }
    }
}
