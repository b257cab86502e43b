package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.config.ConfigTree;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Jazzer target: the {@code kms.toml} reader (TOML, the merge over the shipped values, every typed read) and the
 * {@code serde-duration} grammar. Only {@link RaException} (with a reason and the dotted key or the file as its
 * field) may escape the reader, only {@link IllegalArgumentException} the duration parser; a config that loads
 * has its invariants. No network: addresses are IP literals, URLs are only parsed.
 */
class KmsConfigFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** Entry point for the Jazzer CLI. */
    public static void fuzzerTestOneInput(byte[] data) {
        try {
            KmsConfig c = KmsConfigReader.read(data, Path.of("fuzz.toml"));
            if (c.warnings() == null || c.certDir().toString().isEmpty()
                    || (c.authApiType().equals(KmsConfig.AUTH_WEBHOOK) && c.webhookUrl().isEmpty())) {
                throw new AssertionError("a loaded config breaks its invariants");
            }
        } catch (RaException e) {
            if (e.raReason() == null || e.field() == null) {
                throw new AssertionError("a refusal without reason or key");
            }
        }
        try {
            ConfigTree.parseDuration(new String(data, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException expected) {
            // the grammar's refusals
        }
    }
}
