package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Kind;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link RaException} is an {@link AttestationException}: every fine {@link RaException.Reason} maps to one coarse
 * {@link AttestationException.Reason} and so has a kind, and callers catch the family and decide by kind.
 */
class RaExceptionFamilyTest {
    private static final AttestationException.Reason INVALID_ARGUMENT = AttestationException.Reason.INVALID_ARGUMENT;
    private static final AttestationException.Reason SIGNATURE = AttestationException.Reason.SIGNATURE_INVALID;
    private static final AttestationException.Reason TIMESTAMP =
            AttestationException.Reason.SIGNATURE_TIMESTAMP_INVALID;
    private static final AttestationException.Reason MALFORMED = AttestationException.Reason.MALFORMED_ATTESTATION;
    private static final AttestationException.Reason ENV = AttestationException.Reason.ENV_DECRYPTION_FAILED;

    /** The mapping is API of both modules; this table pins it (docs/dstack-ra.md has the same table). */
    static Map<RaException.Reason, AttestationException.Reason> expectedMapping() {
        Map<RaException.Reason, AttestationException.Reason> m = new EnumMap<>(RaException.Reason.class);
        m.put(RaException.Reason.INVALID_ARGUMENT, INVALID_ARGUMENT);
        m.put(RaException.Reason.KEY_OUT_OF_RANGE, INVALID_ARGUMENT);
        for (RaException.Reason r : EnumSet.of(RaException.Reason.SIGNATURE_MALFORMED,
                RaException.Reason.SIGNATURE_RECOVERY_FAILED, RaException.Reason.SIGNER_MISMATCH,
                RaException.Reason.CHAIN_LENGTH, RaException.Reason.CHAIN_APP_LINK, RaException.Reason.CHAIN_KMS_LINK)) {
            m.put(r, SIGNATURE);
        }
        m.put(RaException.Reason.TIMESTAMP_TOO_OLD, TIMESTAMP);
        m.put(RaException.Reason.TIMESTAMP_IN_FUTURE, TIMESTAMP);
        for (RaException.Reason r : EnumSet.of(RaException.Reason.TOO_LARGE, RaException.Reason.TRUNCATED,
                RaException.Reason.TRAILING_BYTES, RaException.Reason.WRONG_TYPE, RaException.Reason.BAD_LENGTH,
                RaException.Reason.NON_CANONICAL, RaException.Reason.UNKNOWN_VERSION,
                RaException.Reason.UNKNOWN_VARIANT, RaException.Reason.INVALID_UTF8, RaException.Reason.MISSING_FIELD,
                RaException.Reason.UNKNOWN_FIELD, RaException.Reason.DUPLICATE_FIELD,
                RaException.Reason.LIMIT_EXCEEDED, RaException.Reason.BAD_CONFIG)) {
            m.put(r, MALFORMED);
        }
        m.put(RaException.Reason.UNSUPPORTED_PLATFORM, AttestationException.Reason.UNSUPPORTED_PLATFORM);
        m.put(RaException.Reason.BAD_QUOTE, AttestationException.Reason.MALFORMED_QUOTE);
        for (RaException.Reason r : EnumSet.of(RaException.Reason.ENV_TRUNCATED, RaException.Reason.ENV_TOO_LARGE,
                RaException.Reason.ENV_TAMPERED, RaException.Reason.ENV_BAD_PUBLIC_KEY,
                RaException.Reason.ENV_PLAINTEXT_INVALID)) {
            m.put(r, ENV);
        }
        // RA-TLS certificates and SignCert CSRs (issue 16)
        m.put(RaException.Reason.CERT_MALFORMED, AttestationException.Reason.CERT_CHAIN_INVALID);
        m.put(RaException.Reason.CERT_CHAIN_INVALID, AttestationException.Reason.CERT_CHAIN_INVALID);
        m.put(RaException.Reason.CERT_NOT_A_CA, AttestationException.Reason.CERT_CHAIN_INVALID);
        m.put(RaException.Reason.CERT_USAGE_MISMATCH, AttestationException.Reason.CERT_CHAIN_INVALID);
        m.put(RaException.Reason.CERT_UNTRUSTED_ISSUER, AttestationException.Reason.ROOT_CA_UNTRUSTED);
        m.put(RaException.Reason.CERT_EXPIRED, AttestationException.Reason.CERT_EXPIRED);
        m.put(RaException.Reason.CERT_NOT_YET_VALID, AttestationException.Reason.CERT_NOT_YET_VALID);
        m.put(RaException.Reason.CERT_EXTENSION_MISSING, MALFORMED);
        m.put(RaException.Reason.CERT_EXTENSION_MALFORMED, MALFORMED);
        m.put(RaException.Reason.RATLS_BINDING_MISMATCH, AttestationException.Reason.REPORT_DATA_MISMATCH);
        m.put(RaException.Reason.CSR_PUBLIC_KEY_INVALID, SIGNATURE);
        m.put(RaException.Reason.CSR_SIGNATURE_INVALID, SIGNATURE);
        m.put(RaException.Reason.CSR_CONFIRM_MISMATCH, SIGNATURE);
        m.put(RaException.Reason.CSR_UNSUPPORTED_VERSION, AttestationException.Reason.UNSUPPORTED_VERSION);
        // the dstack control plane (issue 17)
        m.put(RaException.Reason.CONFIG_INVALID, AttestationException.Reason.INVALID_CONFIGURATION);
        m.put(RaException.Reason.CONFIG_UNSUPPORTED, AttestationException.Reason.INVALID_CONFIGURATION);
        m.put(RaException.Reason.CONFIG_FILE_UNREADABLE, AttestationException.Reason.INVALID_CONFIGURATION);
        m.put(RaException.Reason.BOOT_DENIED, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.KMS_NOT_ALLOWED, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.AUTH_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.AGENT_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.KMS_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ATTESTATION_MISSING, MALFORMED);
        m.put(RaException.Reason.KEY_STATE, AttestationException.Reason.STATE_CONFLICT);
        m.put(RaException.Reason.OS_IMAGE_MISMATCH, AttestationException.Reason.OS_IMAGE_HASH_MISMATCH);
        m.put(RaException.Reason.KEY_RELEASE_GATE, AttestationException.Reason.UNSUPPORTED_PLATFORM);
        // --- issue20-qemu ---
        m.put(RaException.Reason.KEY_PROVIDER_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.VM_PROCESS_FAILED, AttestationException.Reason.PEER_UNAVAILABLE);
        // issue18-core
        m.put(RaException.Reason.REGISTRATION_CONFLICT, AttestationException.Reason.STATE_CONFLICT);
        m.put(RaException.Reason.REGISTRATION_DENIED, AttestationException.Reason.AUTHORIZATION_DENIED);
        // --- issue18-route ---
        m.put(RaException.Reason.ROUTE_UNKNOWN_APP, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ROUTE_NO_HEALTHY_INSTANCE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ROUTE_PORT_NOT_ALLOWED, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.ROUTE_TOO_MANY_CONNECTIONS, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ROUTE_DNS_FAILED, AttestationException.Reason.PEER_UNAVAILABLE);

        // --- issue18-wg ---
        m.put(RaException.Reason.WG_TOOL_FAILED, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.WG_INVALID, INVALID_ARGUMENT);
        m.put(RaException.Reason.GATEWAY_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.GATEWAY_APP_ID_MISMATCH, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.ACME_FAILED, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ACME_RATE_LIMITED, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.ACME_REJECTED, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.DNS_API_FAILED, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.DNS_ZONE_NOT_FOUND, AttestationException.Reason.INVALID_CONFIGURATION);
        m.put(RaException.Reason.CERTBOT_STATE_INVALID, AttestationException.Reason.STATE_CONFLICT);
        m.put(RaException.Reason.CT_SOURCE_UNAVAILABLE, AttestationException.Reason.PEER_UNAVAILABLE);
        m.put(RaException.Reason.CT_SOURCE_MALFORMED, AttestationException.Reason.MALFORMED_ATTESTATION);
        m.put(RaException.Reason.CT_UNKNOWN_KEY, AttestationException.Reason.AUTHORIZATION_DENIED);
        m.put(RaException.Reason.CT_UNEXPECTED_IDENTITY, AttestationException.Reason.AUTHORIZATION_DENIED);
        return m;
    }

    @Test
    void everyFineReasonMapsToOneCoarseReasonAndHasAKind() {
        Map<RaException.Reason, AttestationException.Reason> expected = expectedMapping();
        assertThat(expected.keySet()).containsExactlyInAnyOrderElementsOf(EnumSet.allOf(RaException.Reason.class));
        for (RaException.Reason r : RaException.Reason.values()) {
            assertThat(r.coarse()).as(r.name()).isEqualTo(expected.get(r));
            assertThat(r.kind()).as(r.name()).isNotNull().isEqualTo(r.coarse().kind());

            RaException e = new RaException(r, "quote.event_log[0].digest", "some check");
            AttestationException asFamily = e;
            assertThat(asFamily.reason()).isEqualTo(r.coarse());
            assertThat(asFamily.kind()).isEqualTo(r.kind());
            assertThat(e.raReason()).isEqualTo(r);
            assertThat(e.field()).isEqualTo("quote.event_log[0].digest");
            assertThat(e.subject()).contains("quote.event_log[0].digest");
            assertThat(e.expected()).isEmpty();
            assertThat(e.detail()).isEqualTo("quote.event_log[0].digest: some check");
            assertThat(e.getMessage())
                    .isEqualTo(r.coarse() + " (" + r + "): quote.event_log[0].digest: some check");

            RaException noField = new RaException(r, "whole input");
            assertThat(noField.field()).isNull();
            assertThat(noField.subject()).isEmpty();
            assertThat(noField.getMessage()).isEqualTo(r.coarse() + " (" + r + "): whole input");
        }
    }

    @Test
    void theCoarseValuesDstackRaAddedHaveTheirKinds() {
        assertThat(INVALID_ARGUMENT.kind()).isEqualTo(Kind.CONFIGURATION);
        for (AttestationException.Reason r : EnumSet.of(SIGNATURE, TIMESTAMP, MALFORMED, ENV,
                AttestationException.Reason.UNSUPPORTED_PLATFORM, AttestationException.Reason.MALFORMED_QUOTE)) {
            assertThat(r.kind()).as(r.name()).isEqualTo(Kind.REJECTED);
        }
        // no dstack-ra check is a retryable one: only an unreachable peer of the control plane is (issue 17)
        EnumSet<RaException.Reason> peers = EnumSet.of(RaException.Reason.AUTH_UNAVAILABLE,
                RaException.Reason.AGENT_UNAVAILABLE, RaException.Reason.KMS_UNAVAILABLE,
                // --- issue20-qemu ---
                RaException.Reason.KEY_PROVIDER_UNAVAILABLE, RaException.Reason.VM_PROCESS_FAILED);
        // --- issue18-route: a gateway route is retryable when the app or its instances are away ---
        peers.addAll(EnumSet.of(RaException.Reason.ROUTE_UNKNOWN_APP, RaException.Reason.ROUTE_NO_HEALTHY_INSTANCE,
                RaException.Reason.ROUTE_TOO_MANY_CONNECTIONS, RaException.Reason.ROUTE_DNS_FAILED));

        // --- issue18-wg: a WireGuard tool or a gateway that is away is retryable ---
        peers.addAll(EnumSet.of(RaException.Reason.WG_TOOL_FAILED, RaException.Reason.GATEWAY_UNAVAILABLE));
        // --- issue 19: an ACME server, DNS API or CT source that is away (or rate-limits) is retryable ---
        peers.addAll(EnumSet.of(RaException.Reason.ACME_FAILED, RaException.Reason.ACME_RATE_LIMITED,
                RaException.Reason.DNS_API_FAILED,
                RaException.Reason.CT_SOURCE_UNAVAILABLE));
        for (RaException.Reason r : RaException.Reason.values()) {
            if (peers.contains(r)) {
                assertThat(r.kind()).as(r.name()).isEqualTo(Kind.IO);
            } else {
                assertThat(r.kind()).as(r.name()).isNotEqualTo(Kind.IO);
            }
        }
    }

    @Test
    void theCauseIsKept() {
        IllegalStateException cause = new IllegalStateException("inner");
        RaException e = new RaException(RaException.Reason.CHAIN_APP_LINK, "signature_chain[0]", "x", cause);
        assertThat(e.getCause()).isSameAs(cause);
        assertThat(new RaException(RaException.Reason.TRUNCATED, "x").getCause()).isNull();
    }

    interface Call {
        void run() throws AttestationException;
    }

    /** What a caller that knows only atlas-tdx's family does: catch it and switch on the kind. */
    static String decide(Call c) {
        try {
            c.run();
            return "ok";
        } catch (AttestationException e) {
            return switch (e.kind()) {
                case CONFIGURATION -> "fix the input: " + e.reason();
                case IO -> "retry: " + e.reason();
                case REJECTED -> "do not trust: " + e.reason();
            };
        }
    }

    @Test
    void callersCatchAttestationExceptionAndSwitchOnKind() {
        assertThat(decide(() -> VersionedAttestation.decode(new byte[] {0x42})))
                .isEqualTo("do not trust: MALFORMED_ATTESTATION");
        assertThat(decide(() -> VersionedAttestation.decode(new byte[] {0x00})))
                .isEqualTo("do not trust: MALFORMED_ATTESTATION");
        assertThat(decide(() -> RecoverableSignature.of(new byte[64])))
                .isEqualTo("do not trust: SIGNATURE_INVALID");
        assertThat(decide(() -> EnvCrypt.decrypt(EnvCryptTest.KEY, new byte[10])))
                .isEqualTo("do not trust: ENV_DECRYPTION_FAILED");
        assertThat(decide(() -> EnvCrypt.publicKey(SecretBytes.of(new byte[31]))))
                .isEqualTo("fix the input: INVALID_ARGUMENT");
    }

    @Test
    void aCallerCanStillReadTheFineReason() {
        try {
            VersionedAttestation.decode(new byte[] {0x00});
            throw new AssertionError("decoded");
        } catch (AttestationException e) {
            assertThat(e).isInstanceOf(RaException.class);
            assertThat(((RaException) e).raReason()).isEqualTo(RaException.Reason.TRUNCATED);
            assertThat(e.subject()).isPresent();
        }
    }
}
