package dev.atlas.dstack.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config schema: zod's defaults, unknown keys ignored, a wrong type or broken file falls back to deny-all. */
class AuthConfigTest {
    static AuthConfig parse(String s) throws Exception {
        return AuthConfig.parse(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void defaultsAndUnknownKeys() throws Exception {
        AuthConfig c = parse("{\"unknown\": 1, \"apps\": {}}");
        assertThat(c.osImages()).isEmpty();
        assertThat(c.gatewayAppId()).isEmpty();
        assertThat(c.kmsContractAddr()).isEqualTo(AuthConfig.ZERO_ADDRESS);
        assertThat(c.appImplementation()).isEqualTo(AuthConfig.ZERO_ADDRESS);
        assertThat(c.chainId().asInt()).isZero();
        assertThat(c.allowedTcbStatuses()).containsExactly("UpToDate");
        assertThat(c.allowedAdvisoryIds()).isEmpty();
        assertThat(c.kms().mrAggregated()).isEmpty();
        assertThat(c.kms().allowAnyDevice()).isFalse();
        assertThat(c.sha256()).hasSize(64);
        AuthConfig full = parse("{\"chainId\": 1337, \"kmsContractAddr\": \"0xK\", \"gatewayAppId\": \"0xG\"}");
        assertThat(full.chainId().asLong()).isEqualTo(1337);
        assertThat(full.gatewayAppId()).isEqualTo("0xG");
    }

    @Test
    void wrongTypesAreErrors() {
        String[] bad = {"[]", "1", "null", "{\"osImages\": \"aa\"}", "{\"osImages\": [1]}", "{\"gatewayAppId\": 1}",
            "{\"chainId\": \"1\"}", "{\"chainId\": null}", "{\"kms\": []}", "{\"kms\": {\"allowAnyDevice\": \"true\"}}",
            "{\"apps\": []}", "{\"apps\": {\"a\": {\"composeHashes\": [null]}}}", "{\"allowedTcbStatuses\": null}",
            "{\"a\": 1, \"a\": 2}", "{} {}", "{} x", "{\"osImages\": []", ""};
        for (String b : bad) {
            assertThatThrownBy(() -> parse(b)).as(b).isInstanceOf(AuthConfig.ConfigException.class);
        }
    }

    @Test
    void loadFallsBackToDefaultsAndSaysWhy(@TempDir Path dir) throws Exception {
        AuthConfig.Loaded missing = AuthConfig.load(dir.resolve("nope.json"));
        assertThat(missing.ok()).isFalse();
        assertThat(missing.error()).startsWith("config file not found: ");
        assertThat(missing.config().osImages()).isEmpty();
        Path f = dir.resolve("c.json");
        Files.writeString(f, "{\"osImages\": [\"aa\"],");
        AuthConfig.Loaded broken = AuthConfig.load(f);
        assertThat(broken.ok()).isFalse();
        assertThat(broken.error()).isEqualTo("config file " + f + ": invalid JSON at line 1, column 21: the file ends"
                + " before the JSON is complete (cut short, or still being written?)");
        assertThat(broken.sha256()).hasSize(64);
        assertThat(broken.config().osImages()).isEmpty();
        Files.writeString(f, "{\"osImages\": [\"aa\"]}");
        AuthConfig.Loaded good = AuthConfig.load(f);
        assertThat(good.ok()).isTrue();
        assertThat(good.config().osImages()).containsExactly("aa");
        assertThat(good.sha256()).isEqualTo(good.config().sha256());
    }

    @Test
    void checkListsWhatIsAllowedAndTheQuirks() throws Exception {
        AuthConfig c = parse("""
                {"osImages": ["AA"], "kms": {"mrAggregated": []},
                 "apps": {"0x1111111111111111111111111111111111111111": {"composeHashes": ["%s"]}}}"""
                .formatted("cc".repeat(32)));
        ConfigCheck.Result loose = ConfigCheck.check(c, false);
        assertThat(loose.ok()).isTrue();
        assertThat(String.join("\n", loose.lines())).contains("KMS aggregated MRs: NONE: every KMS is denied")
                .contains("auth-simple then allows every device").contains("    0xaa");
        ConfigCheck.Result strict = ConfigCheck.check(c, true);
        assertThat(strict.ok()).isFalse();
        assertThat(strict.problems()).containsExactly("osImages: 'AA' is not 32 bytes of hex");
    }
}
