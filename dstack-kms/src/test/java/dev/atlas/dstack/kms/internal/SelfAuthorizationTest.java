package dev.atlas.dstack.kms.internal;

import static dev.atlas.dstack.kms.internal.SvcFixtures.CLOCK;
import static dev.atlas.dstack.kms.internal.SvcFixtures.HEX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.AttestationInfoResponse;
import org.junit.jupiter.api.Test;

/** {@code Onboard.GetAttestationInfo} values and the self check's failure texts. */
class SelfAuthorizationTest {
    @Test
    void attestationInfoIsWhatTheOperatorAllowlists() throws Exception {
        SvcFixtures f = new SvcFixtures();
        SelfAgent agent = new SelfAgent() {
            @Override
            public byte[] attest(byte[] reportData64) throws RaException {
                return f.selfAttester().attest(reportData64);
            }

            @Override
            public String vmConfig() {
                return f.kmsCvm.vmConfig();
            }
        };
        SelfAuthorization s = new SelfAuthorization(true, f.auth, agent, f.verifier, CLOCK);
        AttestationInfoResponse r = s.attestationInfo("site-1");
        AppInfo own = SvcFixtures.attestation(f.kmsCvm, new byte[64]).appInfo(false);
        assertArrayEquals(own.mrAggregated(), r.mrAggregated(), "full replay");
        assertEquals(SvcFixtures.OS_IMAGE, HEX.formatHex(r.osImageHash()));
        assertArrayEquals(BootInfos.sha256(r.ppid()), r.deviceId());
        assertEquals("dstack-tdx", r.teeVariant());
        assertEquals("site-1", r.siteName());
        assertEquals("http://rpc", r.ethRpcUrl());
        assertEquals("0xkms", r.kmsContractAddress());
        // the same device id and mr_aggregated the self check sends to /bootAuth/kms
        s.check();
        assertEquals(HEX.formatHex(r.deviceId()), f.auth.kmsCalls.get(0).get("deviceId").asText());
        assertEquals(HEX.formatHex(r.mrAggregated()), f.auth.kmsCalls.get(0).get("mrAggregated").asText());
    }

    @Test
    void failureTexts() throws Exception {
        SvcFixtures f = new SvcFixtures();
        SelfAuthorization down = new SelfAuthorization(true, f.auth, rd -> {
            throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, "connection refused");
        }, f.verifier, CLOCK);
        RaException e = assertThrows(RaException.class, down::check);
        assertEquals("Failed to load cached self boot info: Failed to get local KMS attestation: connection refused",
                e.detail());
        assertEquals(RaException.Reason.AGENT_UNAVAILABLE, e.raReason());
        // an attestation over other report data than the zeros asked for is not the KMS's own
        byte[] other = SvcFixtures.attestation(f.kmsCvm, new byte[] {1}).encode();
        SelfAuthorization wrong = new SelfAuthorization(true, f.auth, rd -> other, f.verifier, CLOCK);
        e = assertThrows(RaException.class, wrong::check);
        assertTrue(e.detail().startsWith("Failed to load cached self boot info: Failed to verify local KMS"
                + " attestation: "), e.detail());
        f.auth.kms = SvcFixtures.FakeAuth.Mode.DOWN;
        SelfAuthorization s = f.selfAuthorization(true);
        e = assertThrows(RaException.class, s::check);
        assertTrue(e.detail().startsWith("Failed to call self KMS auth check: auth api "), e.detail());
        assertEquals(RaException.Reason.AUTH_UNAVAILABLE, e.raReason());
        SelfAuthorization off = f.selfAuthorization(false);
        off.check();
        assertEquals(1, f.auth.kmsCalls.size(), "not enforced: no webhook call");
    }
}
