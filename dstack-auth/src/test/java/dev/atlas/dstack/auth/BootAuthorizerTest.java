package dev.atlas.dstack.auth;

import static dev.atlas.dstack.auth.BootAuthorizer.Mode.COMPATIBLE;
import static dev.atlas.dstack.auth.BootAuthorizer.Mode.STRICT;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** auth-simple's decision table, branch by branch, with its exact reason strings. */
class BootAuthorizerTest {
    static final String OS = "aa".repeat(32);
    static final String APP = "11".repeat(20);
    static final String COMPOSE = "cc".repeat(32);
    static final String DEVICE = "dd".repeat(32);
    static final String MR = "ee".repeat(32);

    static AuthConfig config(String json) throws Exception {
        return AuthConfig.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    static final String FULL = """
            {"osImages": ["0x%s"], "gatewayAppId": "GwApp-Verbatim",
             "allowedTcbStatuses": ["UpToDate", "SWHardeningNeeded"], "allowedAdvisoryIds": ["INTEL-SA-00837"],
             "kms": {"mrAggregated": ["0x%s"], "devices": ["0x%s"], "allowAnyDevice": false},
             "apps": {"0x%s": {"composeHashes": ["0x%s"], "devices": ["0x%s"], "allowAnyDevice": false}}}
            """.formatted(OS, MR, DEVICE, APP, COMPOSE, DEVICE);

    static BootInfo boot(String tcb, List<String> adv, String os, String app, String compose, String device, String mr) {
        return new BootInfo("dstack-tdx", mr, os, app, compose, "22".repeat(20), device, tcb, adv, "");
    }

    static BootInfo ok() {
        return boot("UpToDate", List.of(), OS, APP, COMPOSE, DEVICE, MR);
    }

    @Test
    void appBranchesInOrder() throws Exception {
        AuthConfig c = config(FULL);
        assertThat(BootAuthorizer.app(c, ok(), COMPATIBLE)).isEqualTo(new BootDecision(true, "", "GwApp-Verbatim"));
        assertThat(BootAuthorizer.app(c, boot("", List.of(), OS, APP, COMPOSE, DEVICE, MR), COMPATIBLE).reason())
                .isEqualTo("TCB status is not allowed");
        assertThat(BootAuthorizer.app(c, boot("uptodate", List.of(), OS, APP, COMPOSE, DEVICE, MR), COMPATIBLE)
                .reason()).as("TCB status is compared exactly").isEqualTo("TCB status is not allowed");
        assertThat(BootAuthorizer.app(c, boot("OutOfDate", List.of(), "00", "00", "00", "00", "00"), COMPATIBLE)
                .reason()).as("TCB first").isEqualTo("TCB status is not allowed");
        assertThat(BootAuthorizer.app(c, boot("SWHardeningNeeded", List.of("INTEL-SA-00837"), OS, APP, COMPOSE,
                DEVICE, MR), COMPATIBLE).isAllowed()).isTrue();
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of("INTEL-SA-00837", "INTEL-SA-00615"), OS, APP,
                COMPOSE, DEVICE, MR), COMPATIBLE).reason()).isEqualTo("advisory ID is not allowed");
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of(), "ab".repeat(32), APP, COMPOSE, DEVICE, MR),
                COMPATIBLE).reason()).isEqualTo("OS image is not allowed");
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of(), OS, "33".repeat(20), COMPOSE, DEVICE, MR),
                COMPATIBLE).reason()).isEqualTo("app not registered");
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of(), OS, APP, "cd".repeat(32), DEVICE, MR),
                COMPATIBLE).reason()).isEqualTo("compose hash not allowed");
        BootDecision d = BootAuthorizer.app(c, boot("UpToDate", List.of(), OS, APP, COMPOSE, "de".repeat(32), MR),
                COMPATIBLE);
        assertThat(d).isEqualTo(new BootDecision(false, "app is not allowed to boot on this device", "GwApp-Verbatim"));
    }

    @Test
    void kmsBranchesInOrder() throws Exception {
        AuthConfig c = config(FULL);
        assertThat(BootAuthorizer.kms(c, ok(), COMPATIBLE)).isEqualTo(new BootDecision(true, "", "GwApp-Verbatim"));
        assertThat(BootAuthorizer.kms(c, boot("OutOfDate", List.of(), OS, APP, COMPOSE, DEVICE, MR), COMPATIBLE)
                .reason()).isEqualTo("TCB status is not allowed");
        assertThat(BootAuthorizer.kms(c, boot("UpToDate", List.of("X"), OS, APP, COMPOSE, DEVICE, MR), COMPATIBLE)
                .reason()).isEqualTo("advisory ID is not allowed");
        assertThat(BootAuthorizer.kms(c, boot("UpToDate", List.of(), "", APP, COMPOSE, DEVICE, MR), COMPATIBLE)
                .reason()).isEqualTo("OS image is not allowed");
        assertThat(BootAuthorizer.kms(c, boot("UpToDate", List.of(), OS, APP, COMPOSE, DEVICE, "ef".repeat(32)),
                COMPATIBLE).reason()).isEqualTo("aggregated MR not allowed");
        assertThat(BootAuthorizer.kms(c, boot("UpToDate", List.of(), OS, "00", "00", "de".repeat(32), MR), COMPATIBLE)
                .reason()).as("the KMS endpoint ignores app and compose").isEqualTo("KMS is not allowed to boot on this device");
    }

    @Test
    void emptyListsAndTheDeviceQuirk() throws Exception {
        AuthConfig none = AuthConfig.defaults();
        assertThat(BootAuthorizer.app(none, ok(), COMPATIBLE)).isEqualTo(new BootDecision(false, "OS image is not allowed", ""));
        AuthConfig noMr = config("{\"osImages\":[\"" + OS + "\"]}");
        assertThat(BootAuthorizer.kms(noMr, ok(), COMPATIBLE).reason()).isEqualTo("aggregated MR not allowed");
        AuthConfig anyDevice = config("""
                {"osImages": ["%s"], "kms": {"mrAggregated": ["%s"]},
                 "apps": {"%s": {"composeHashes": ["%s"]}}}""".formatted(OS, MR, APP, COMPOSE));
        // auth-simple: an empty device list with allowAnyDevice false allows any device ...
        assertThat(BootAuthorizer.app(anyDevice, ok(), COMPATIBLE).isAllowed()).isTrue();
        assertThat(BootAuthorizer.kms(anyDevice, ok(), COMPATIBLE).isAllowed()).isTrue();
        // ... which --strict closes.
        assertThat(BootAuthorizer.app(anyDevice, ok(), STRICT).reason()).isEqualTo("app is not allowed to boot on this device");
        assertThat(BootAuthorizer.kms(anyDevice, ok(), STRICT).reason()).isEqualTo("KMS is not allowed to boot on this device");
        AuthConfig allowAny = config("""
                {"osImages": ["%s"], "kms": {"mrAggregated": ["%s"], "allowAnyDevice": true},
                 "apps": {"%s": {"composeHashes": ["%s"], "devices": ["%s"], "allowAnyDevice": true}}}"""
                .formatted(OS, MR, APP, COMPOSE, "00"));
        assertThat(BootAuthorizer.app(allowAny, ok(), STRICT).isAllowed()).isTrue();
        assertThat(BootAuthorizer.kms(allowAny, ok(), STRICT).isAllowed()).isTrue();
    }

    @Test
    void hexNormalizationIsCaseAndPrefixOnly() throws Exception {
        assertThat(BootAuthorizer.normalizeHex("ABcd")).isEqualTo("0xabcd");
        assertThat(BootAuthorizer.normalizeHex("0XAB")).isEqualTo("0xab");
        assertThat(BootAuthorizer.normalizeHex("0xab")).isEqualTo("0xab");
        AuthConfig c = config("""
                {"osImages": ["0x%s"], "apps": {"0xAPP123": {"composeHashes": ["0X%s"]}}}"""
                .formatted(OS.toUpperCase(), COMPOSE.toUpperCase()));
        BootInfo b = boot("UpToDate", List.of(), OS, "app123", COMPOSE, DEVICE, MR);
        assertThat(BootAuthorizer.app(c, b, COMPATIBLE).isAllowed()).as("'app123' matches '0xAPP123'").isTrue();
        BootInfo spaced = boot("UpToDate", List.of(), " " + OS, "app123", COMPOSE, DEVICE, MR);
        assertThat(BootAuthorizer.app(c, spaced, COMPATIBLE).reason()).as("no trimming").isEqualTo("OS image is not allowed");
    }

    @Test
    void firstMatchingAppWins() throws Exception {
        AuthConfig c = config("""
                {"osImages": ["%s"], "apps": {"0xABCD": {"composeHashes": ["01"]}, "abcd": {"composeHashes": ["02"]}}}"""
                .formatted(OS));
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of(), OS, "ABCD", "01", DEVICE, MR), COMPATIBLE)
                .isAllowed()).isTrue();
        assertThat(BootAuthorizer.app(c, boot("UpToDate", List.of(), OS, "ABCD", "02", DEVICE, MR), COMPATIBLE)
                .reason()).isEqualTo("compose hash not allowed");
    }
}
