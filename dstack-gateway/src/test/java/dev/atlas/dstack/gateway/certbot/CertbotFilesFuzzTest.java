package dev.atlas.dstack.gateway.certbot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;

/**
 * Jazzer target: the certbot's own files — {@code certbot.toml}, {@code credentials.json}, and a live/ cert + key
 * pair. Only {@link RaException} with a reason may escape; what parses re-serializes to itself (credentials) or
 * keeps its invariants (config: at least one domain, positive intervals; certificate: key matches).
 */
class CertbotFilesFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        try {
            CertbotConfig c = CertbotConfig.parse(text, "fuzz.toml");
            if (c.domains().isEmpty() || c.renewInterval().isZero() || c.cfApiToken().isBlank()) {
                throw new AssertionError("a config outside its invariants");
            }
            if (c.toString().contains(c.cfApiToken())) {
                throw new AssertionError("the token in toString");
            }
        } catch (RaException e) {
            check(e);
        }
        try {
            AcmeCredentials a = AcmeCredentials.parse(text);
            if (!AcmeCredentials.parse(a.toJson()).toJson().equals(a.toJson())) {
                throw new AssertionError("credentials do not round-trip");
            }
        } catch (RaException e) {
            check(e);
        }
        int cut = text.indexOf("-----BEGIN PRIVATE KEY-----");
        try {
            IssuedCertificate.of(cut < 0 ? text : text.substring(0, cut), cut < 0 ? text : text.substring(cut));
        } catch (RaException e) {
            check(e);
        }
    }

    private static void check(RaException e) {
        if (e.raReason() == null || e.getMessage() == null) {
            throw new AssertionError("a refusal without a reason");
        }
    }
}
