package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.MockIntelPki;
import dev.atlas.testing.SimulatedCvm;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A KMS without listeners for the svc tests: the Appendix A root keys, a root CA and a temp CA, two simulated CVMs
 * under one mock Intel PKI (the KMS's own, and an app with the Appendix A.2 app id), the verifier that trusts that
 * PKI with fixed collateral, a scriptable {@link FakeAuth}, and an audit sink. Time is fixed at {@link #NOW}.
 */
final class SvcFixtures {
    static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
    static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    static final HexFormat HEX = HexFormat.of();
    /** Appendix A.1: the root scalar of {@code ra-tls/src/kdf.rs}. */
    static final String ROOT_CA_SCALAR = "f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1";
    /** Appendix A.2: the simulator's k256 key as a KMS root. */
    static final String ROOT_K256 = "d6e88992cdeeee35fe70b5db61ab66cdb191fb9b6ec9313757ef162dd7214d5d";
    /** Appendix A.2 app id. */
    static final String APP_ID = "7a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b";
    static final String KMS_APP_ID = "00112233445566778899aabbccddeeff00112233";
    static final String OS_IMAGE = "11".repeat(32);
    private static final ObjectMapper JSON = new ObjectMapper();

    final MockIntelPki pki = MockIntelPki.builder().seed(7).build();
    final SimulatedCvm appCvm = SimulatedCvm.builder().seed(7).pki(pki).clock(CLOCK).appId(APP_ID)
            .osImageHash(OS_IMAGE).build();
    final SimulatedCvm kmsCvm = SimulatedCvm.builder().seed(7).pki(pki).clock(CLOCK).appId(KMS_APP_ID)
            .osImageHash(OS_IMAGE).build();
    final RootKeys keys;
    final KeyPair rootCaPair;
    final X509Certificate rootCa;
    final KeyPair tempCaPair;
    final X509Certificate tempCa;
    final KmsState state;
    final DstackTdxVerifier dstackVerifier;
    final CallerVerifier verifier;
    final FakeAuth auth = new FakeAuth();
    final List<String> audit = new CopyOnWriteArrayList<>();

    SvcFixtures() throws Exception {
        P256PrivateKey rootCaKey = P256PrivateKey.fromScalar(HEX.parseHex(ROOT_CA_SCALAR));
        P256PrivateKey tempKey = P256PrivateKey.fromScalar(HEX.parseHex("22".repeat(32)));
        keys = new RootKeys(rootCaKey, K256PrivateKey.fromScalar(HEX.parseHex(ROOT_K256)), tempKey);
        rootCaPair = new KeyPair(rootCaKey.toPublicKey(), rootCaKey.toPrivateKey());
        tempCaPair = new KeyPair(tempKey.toPublicKey(), tempKey.toPrivateKey());
        rootCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).selfSigned(rootCaPair);
        tempCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA").caLevel(0)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).selfSigned(tempCaPair);
        KeyPair rpc = p256();
        X509Certificate rpcCert = RaTlsCertificate.builder().subject("kms.example.com")
                .altNames(List.of("kms.example.com")).usage(RaTlsCertificate.USAGE_KMS_RPC).clock(CLOCK)
                .publicKey(rpc.getPublic()).signedBy(rootCa, rootCaPair.getPrivate());
        state = new KmsState(keys, rootCa, tempCa, rpcCert, P256PrivateKey.fromScalar(HEX.parseHex("33".repeat(32))),
                "kms.example.com", Optional.empty());
        dstackVerifier = DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(pki.rootCertificate())
                        .clock(CLOCK).build())
                .collateralSource(CollateralSource.fixed(Collateral.fromJson(appCvm.collateralJson())))
                .clock(CLOCK).build();
        verifier = new CallerVerifier(dstackVerifier);
    }

    static KeyPair p256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A full V0 attestation of {@code cvm} over {@code reportData}. */
    static VersionedAttestation attestation(SimulatedCvm cvm, byte[] reportData) throws Exception {
        SimulatedCvm.GetQuoteResponse r = cvm.getQuote(reportData);
        List<TdxEvent> log = new ArrayList<>();
        List<RuntimeEvent> runtime = new ArrayList<>();
        for (JsonNode e : JSON.readTree(r.eventLog())) {
            TdxEvent t = TdxEvent.of(e.get("imr").asLong(), e.get("event_type").asLong(),
                    HEX.parseHex(e.get("digest").asText()), e.get("event").asText(),
                    HEX.parseHex(e.get("event_payload").asText()));
            log.add(t);
            if (t.imr() == 3 && t.isRuntimeEvent()) {
                runtime.add(t.toRuntimeEvent());
            }
        }
        return new VersionedAttestation(0, r.quote(), log, runtime, r.reportData(), r.vmConfig(), null);
    }

    /** {@code cvm}'s attestation bound to {@code key} (RA-TLS). */
    static VersionedAttestation boundTo(SimulatedCvm cvm, PublicKey key) throws Exception {
        return attestation(cvm, RaTlsCertificate.reportData(key));
    }

    /** An RA-TLS client certificate as dstack-util makes it: CN=RA-TLS TEMP Cert, signed by {@code ca}. */
    static X509Certificate clientCert(KeyPair key, VersionedAttestation att, X509Certificate ca, KeyPair caKey)
            throws RaException {
        RaTlsCertificate.Builder b = RaTlsCertificate.builder().subject("RA-TLS TEMP Cert").clock(CLOCK)
                .publicKey(key.getPublic());
        if (att != null) {
            b.attestation(att.stripped().encode());
        }
        return b.signedBy(ca, caKey.getPrivate());
    }

    /** The KMS's own attester: its CVM's attestation (V0 bytes) over the given report data. */
    SelfAuthorization.Attester selfAttester() {
        return reportData -> {
            try {
                return attestation(kmsCvm, reportData).encode();
            } catch (Exception e) {
                throw new RaException(RaException.Reason.AGENT_UNAVAILABLE, "simulated agent: " + e);
            }
        };
    }

    SelfAuthorization selfAuthorization(boolean enforce) {
        return new SelfAuthorization(enforce, auth, selfAttester(), verifier, CLOCK);
    }

    KmsRpc.Deps deps(boolean enforceSelf, OsImageCheck os) {
        return new KmsRpc.Deps(state, verifier, auth, selfAuthorization(enforceSelf), os,
                AuditLog.toSink(audit::add, CLOCK, false), CLOCK, false, false);
    }

    /** A scriptable auth API that records every BootInfo it was asked about. */
    static class FakeAuth implements AuthApi {
        enum Mode { ALLOW, DENY, DOWN }

        volatile Mode app = Mode.ALLOW;
        volatile Mode kms = Mode.ALLOW;
        volatile String reason = "app not registered";
        final List<ObjectNode> appCalls = new CopyOnWriteArrayList<>();
        final List<ObjectNode> kmsCalls = new CopyOnWriteArrayList<>();

        private BootDecision decide(Mode m) throws RaException {
            return switch (m) {
                case ALLOW -> new BootDecision(true, "", Optional.of("gw-app"));
                case DENY -> new BootDecision(false, reason, Optional.of("gw-app"));
                case DOWN -> throw new RaException(RaException.Reason.AUTH_UNAVAILABLE,
                        "auth api http://127.0.0.1:1/bootAuth/x unreachable: ConnectException");
            };
        }

        @Override
        public BootDecision bootAuthApp(JsonNode bootInfo) throws RaException {
            appCalls.add((ObjectNode) bootInfo.deepCopy());
            return decide(app);
        }

        @Override
        public BootDecision bootAuthKms(JsonNode bootInfo) throws RaException {
            kmsCalls.add((ObjectNode) bootInfo.deepCopy());
            return decide(kms);
        }

        @Override
        public AuthInfo info() {
            return new AuthInfo("ok", "0xkms", "gw-app", java.util.OptionalLong.of(1), "0ximpl", "http://rpc");
        }

        @Override
        public boolean isDev() {
            return false;
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
