package dev.atlas.dstack.kms.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Jazzer target: {@link Domains#validate} on any string. Only {@link RaException} {@code CONFIG_INVALID} with one of
 * dstack's two texts may escape, and the decision must agree with an independent oracle (a regular expression of
 * the §2.3 rules plus the byte limit).
 */
class DomainsFuzzTest {
    private static final Pattern LABELS = Pattern.compile(
            "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");

    @FuzzTest(maxDuration = "10s")
    void validate(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        String domain = new String(data, StandardCharsets.UTF_8);
        boolean oracle = !domain.isEmpty() && domain.length() <= Domains.MAX_DOMAIN_BYTES
                && domain.chars().allMatch(c -> c < 0x80) && LABELS.matcher(domain).matches();
        boolean accepted;
        try {
            Domains.validate(domain);
            accepted = true;
        } catch (RaException e) {
            if (e.raReason() != RaException.Reason.CONFIG_INVALID
                    || !(e.detail().equals(Domains.BAD_DOMAIN) || e.detail().equals(Domains.BAD_LABEL))) {
                throw new AssertionError("unexpected refusal: " + e.getMessage(), e);
            }
            accepted = false;
        }
        if (accepted != oracle) {
            throw new AssertionError("Domains.validate says " + accepted + ", the oracle " + oracle + " for "
                    + domain.length() + " chars");
        }
    }
}
