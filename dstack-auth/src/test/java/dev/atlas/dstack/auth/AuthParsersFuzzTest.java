package dev.atlas.dstack.auth;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Arrays;

/**
 * Jazzer target for the webhook's parsers of untrusted input: the config file (first byte even) and a boot
 * request followed by both decisions and the strict check (odd). Only the documented exceptions may escape.
 * Seeds: {@code src/test/resources/dev/atlas/dstack/auth/AuthParsersFuzzTestInputs}.
 */
class AuthParsersFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI (long runs on demand: bench/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] rest = Arrays.copyOfRange(data, 1, data.length);
        AuthConfig config = AuthConfig.defaults();
        if ((data[0] & 1) == 0) {
            try {
                config = AuthConfig.parse(rest);
                ConfigCheck.check(config, true);
            } catch (AuthConfig.ConfigException expected) {
                return;
            }
        }
        JsonNode n;
        try {
            n = JSON.readTree(rest);
        } catch (IOException expected) {
            return;
        }
        try {
            BootInfo b = BootInfo.from(n);
            b.strictProblem();
            for (BootAuthorizer.Mode m : BootAuthorizer.Mode.values()) {
                BootDecision app = BootAuthorizer.app(config, b, m);
                BootDecision kms = BootAuthorizer.kms(config, b, m);
                if (!BootAuthorizer.REASONS.contains(app.reason()) || !BootAuthorizer.REASONS.contains(kms.reason())) {
                    throw new AssertionError("unexpected reason");
                }
                if (app.isAllowed() != app.reason().isEmpty() || kms.isAllowed() != kms.reason().isEmpty()) {
                    throw new AssertionError("allow must come with an empty reason and only then");
                }
            }
        } catch (BootInfo.InvalidBootInfo expected) {
            if (!expected.body().has("error")) {
                throw new AssertionError("zod body without error");
            }
        }
    }
}
