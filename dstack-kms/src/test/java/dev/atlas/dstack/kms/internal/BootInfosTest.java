package dev.atlas.dstack.kms.internal;

import static dev.atlas.dstack.kms.internal.SvcFixtures.HEX;
import static dev.atlas.dstack.kms.internal.SvcFixtures.NOW;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.auth.BootInfo;
import dev.atlas.dstack.ra.AppInfo;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The BootInfo JSON: upstream's field names and order, plain hex, the verified TCB fields; dstack-auth reads it. */
class BootInfosTest {
    @Test
    void shapeAndDstackAuthAcceptsIt() throws Exception {
        SvcFixtures f = new SvcFixtures();
        KeyPair k = SvcFixtures.p256();
        var cert = SvcFixtures.clientCert(k, SvcFixtures.boundTo(f.appCvm, k.getPublic()), f.tempCa, f.tempCaPair);
        VerifiedAttestation a = f.verifier.verifyClientCertificate(List.of(cert), f.tempCa, f.appCvm.vmConfig(),
                false, NOW);
        ObjectNode o = BootInfos.of(a);
        List<String> names = new ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        assertEquals(List.of("teeVariant", "mrAggregated", "osImageHash", "mrSystem", "appId", "composeHash",
                "instanceId", "deviceId", "keyProviderInfo", "tcbStatus", "advisoryIds"), names);
        AppInfo i = a.appInfo();
        assertEquals("dstack-tdx", o.get("teeVariant").asText());
        assertEquals(SvcFixtures.APP_ID, o.get("appId").asText());
        assertEquals(SvcFixtures.OS_IMAGE, o.get("osImageHash").asText());
        assertEquals(HEX.formatHex(i.keyProviderInfo()), o.get("keyProviderInfo").asText());
        // device id: SHA-256 of the PPID of the PCK certificate
        assertEquals(HEX.formatHex(BootInfos.sha256(HEX.parseHex(a.report().dcapReport().ppid()))),
                o.get("deviceId").asText());
        assertEquals("UpToDate", o.get("tcbStatus").asText());
        assertEquals(0, o.get("advisoryIds").size());

        BootInfo parsed = BootInfo.from(o);
        assertNull(parsed.strictProblem(), "dstack-auth --strict accepts it");
        assertEquals(SvcFixtures.APP_ID, parsed.appId());
        assertEquals(o.get("mrSystem").asText(), parsed.mrSystem());

        // boot-time: replay to boot-mr-done, empty key provider, the same app
        ObjectNode boot = BootInfos.of(a, true, f.appCvm.vmConfig());
        assertEquals("", boot.get("keyProviderInfo").asText());
        assertEquals(o.get("appId"), boot.get("appId"));
        assertEquals(HEX.formatHex(a.attestation().appInfo(true).mrAggregated()), boot.get("mrAggregated").asText());
    }
}
