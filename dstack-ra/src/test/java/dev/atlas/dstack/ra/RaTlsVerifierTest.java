package dev.atlas.dstack.ra;

import static dev.atlas.dstack.ra.RaTlsFixtures.APP_ID;
import static dev.atlas.dstack.ra.RaTlsFixtures.CLOCK;
import static dev.atlas.dstack.ra.RaTlsFixtures.NOW;
import static dev.atlas.dstack.ra.RaTlsFixtures.p256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.tdx.AttestationException;
import dev.atlas.testing.SimulatedCvm;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * End to end: a dstack-like chain (leaf → app CA → KMS root CA) whose leaf carries a SimulatedCvm attestation
 * bound to the leaf key verifies; each adversarial case changes one thing and asserts the reason.
 */
class RaTlsVerifierTest {
    private static RaTlsFixtures f;
    private static KeyPair leafKey;
    private static List<X509Certificate> honest;

    @BeforeAll
    static void setUp() throws Exception {
        f = new RaTlsFixtures();
        leafKey = p256();
        honest = f.honestChain(leafKey);
    }

    private static RaException raFailure(List<X509Certificate> chain, RaTlsVerifier v) {
        return assertThrows(RaException.class, () -> v.verify(chain, NOW));
    }

    @Test
    void honestChain_verifies() throws Exception {
        RaTlsVerifier.Result r = f.verifier().build().verify(honest, NOW);
        assertThat(r.usage()).contains(RaTlsCertificate.USAGE_APP_CUSTOM);
        assertThat(r.appId()).get().isEqualTo(APP_ID);
        AttestationReport report = r.report().orElseThrow();
        assertThat(report.reportDataChecked()).isTrue();
        assertThat(report.reportData()).isEqualTo(HexFormat.of().formatHex(
                RaTlsCertificate.reportData(leafKey.getPublic())));
        assertThat(report.appId()).contains(f.cvm.appId());
        assertThat(report.composeHash()).contains(f.cvm.composeHash());
        assertThat(r.leaf().versionedAttestation().orElseThrow().eventLog())
                .allMatch(e -> e.imr() == 3 || e.isAcpiData());
    }

    @Test
    void withAnAppraiser_theReportIsAppraised() throws Exception {
        AttestationReport report = f.verifier().appraiser((rep, now) -> { }).build().verify(honest, NOW)
                .report().orElseThrow();
        assertThat(report.appraised()).isTrue();
    }

    @Test
    void appraiserRejection_keepsItsReason() throws Exception {
        RaTlsVerifier v = f.verifier().appraiser((rep, now) -> {
            throw new AttestationException(AttestationException.Reason.APP_COMPOSE_MISMATCH, "compose differs");
        }).build();
        AttestationException e = assertThrows(AttestationException.class, () -> v.verify(honest, NOW));
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.APP_COMPOSE_MISMATCH);
    }

    @Test
    void chainWithoutTheRootCertificate_verifies() throws Exception {
        assertThat(f.verifier().build().verify(honest.subList(0, 2), NOW).report()).isPresent();
    }

    @Test
    void replicaCaCertificate_sameKeyAndDn_verifiesBothWays() throws Exception {
        X509Certificate replica = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(1).notBefore(NOW.minus(Duration.ofHours(1))).clock(CLOCK).selfSigned(f.rootKey);
        assertThat(replica.getSerialNumber()).isNotEqualTo(f.rootCa.getSerialNumber());
        // chain carries the replica's certificate, the verifier trusts the original one
        f.verifier().build().verify(List.of(honest.get(0), f.appCa, replica), NOW);
        // and the other way round
        f.verifier().trustedCa(replica).build().verify(honest, NOW);
    }

    @Test
    void caCopyNotSignedByTheCaKey() throws Exception {
        // the CA's key and DN, but signed by another key (so its constraints are not the CA's)
        KeyPair other = p256();
        X509Certificate otherRoot = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(1).clock(CLOCK).selfSigned(other);
        X509Certificate forgedCopy = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(9).clock(CLOCK).publicKey(f.rootKey.getPublic()).signedBy(otherRoot, other.getPrivate());
        RaException e = raFailure(List.of(honest.get(0), f.appCa, forgedCopy), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_UNTRUSTED_ISSUER);
        assertThat(e.field()).isEqualTo("chain[2].signature");
    }

    @Test
    void keySwapped_bindingMismatch() throws Exception {
        KeyPair other = p256();
        // certifies `other` but carries the attestation of leafKey
        X509Certificate leaf = f.leaf(other.getPublic()).attestation(f.attestationFor(leafKey.getPublic()).encode())
                .signedBy(f.appCa, f.appCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.RATLS_BINDING_MISMATCH);
        assertThat(e.getMessage()).doesNotContain(HexFormat.of().formatHex(
                RaTlsCertificate.reportData(other.getPublic())).substring(0, 16));
    }

    @Test
    void attestationOfAnotherKey_quoteReportDataMismatch() throws Exception {
        // the attestation claims report_data of the leaf key, but its quote was made over another key's
        VersionedAttestation other = f.attestationFor(p256().getPublic());
        VersionedAttestation lying = new VersionedAttestation(0, other.quote(), other.eventLog(),
                other.runtimeEvents(), RaTlsCertificate.reportData(leafKey.getPublic()), other.config(), null);
        X509Certificate leaf = f.leaf(leafKey.getPublic()).attestation(lying.encode())
                .signedBy(f.appCa, f.appCaKey.getPrivate());
        AttestationException e = assertThrows(AttestationException.class,
                () -> f.verifier().build().verify(List.of(leaf, f.appCa, f.rootCa), NOW));
        assertThat(e).isNotInstanceOf(RaException.class);
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.REPORT_DATA_MISMATCH);
    }

    @Test
    void wrongUsage() throws Exception {
        RaException e = raFailure(honest, f.verifier().usage(RaTlsCertificate.USAGE_KMS_RPC).build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_USAGE_MISMATCH);
        assertThat(e.getMessage()).contains("kms:rpc").contains("app:custom");
    }

    @Test
    void anyUsage_acceptsIt() throws Exception {
        f.verifier().anyUsage().build().verify(honest, NOW);
    }

    @Test
    void wrongCa_anotherKeyWithTheSameDn() throws Exception {
        KeyPair impostor = p256();
        X509Certificate fake = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1)
                .clock(CLOCK).selfSigned(impostor);
        assertThat(fake.getSubjectX500Principal()).isEqualTo(f.rootCa.getSubjectX500Principal());
        RaTlsVerifier v = f.verifier().trustedCa(fake).build();
        assertThat(raFailure(honest, v).raReason()).isEqualTo(RaException.Reason.CERT_UNTRUSTED_ISSUER);
        assertThat(raFailure(honest.subList(0, 2), v).raReason()).isEqualTo(RaException.Reason.CERT_UNTRUSTED_ISSUER);
    }

    @Test
    void wrongCa_anotherDnWithTheSameKey() throws Exception {
        X509Certificate renamed = RaTlsCertificate.builder().organization("Dstack").subject("Another CA").caLevel(1)
                .clock(CLOCK).selfSigned(f.rootKey);
        RaException e = raFailure(honest.subList(0, 2), f.verifier().trustedCa(renamed).build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_UNTRUSTED_ISSUER);
    }

    @Test
    void expiredLeaf() throws Exception {
        X509Certificate leaf = f.leaf(leafKey.getPublic()).notAfter(NOW.minusSeconds(1))
                .attestation(f.attestationFor(leafKey.getPublic()).encode()).signedBy(f.appCa, f.appCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXPIRED);
        assertThat(e.field()).isEqualTo("chain[0].notAfter");
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.CERT_EXPIRED);
    }

    @Test
    void expiredAppCa() throws Exception {
        X509Certificate oldCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack App CA").caLevel(0)
                .notBefore(NOW.minus(Duration.ofDays(10))).notAfter(NOW.minus(Duration.ofDays(1)))
                .publicKey(f.appCaKey.getPublic()).signedBy(f.rootCa, f.rootKey.getPrivate());
        RaException e = raFailure(List.of(honest.get(0), oldCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXPIRED);
        assertThat(e.field()).isEqualTo("chain[1].notAfter");
    }

    @Test
    void notYetValidLeaf() throws Exception {
        X509Certificate leaf = f.leaf(leafKey.getPublic()).notBefore(NOW.plusSeconds(60))
                .attestation(f.attestationFor(leafKey.getPublic()).encode()).signedBy(f.appCa, f.appCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_NOT_YET_VALID);
    }

    @Test
    void debugTd_rejectedWithDcapReason() throws Exception {
        RaTlsFixtures debug = new RaTlsFixtures(SimulatedCvm.builder().seed(7).clock(CLOCK).debugTd().build());
        KeyPair k = p256();
        AttestationException e = assertThrows(AttestationException.class,
                () -> debug.verifier().build().verify(debug.honestChain(k), NOW));
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.DEBUG_ENABLED);
    }

    @Test
    void missingAttestation() throws Exception {
        X509Certificate leaf = f.leaf(leafKey.getPublic()).signedBy(f.appCa, f.appCaKey.getPrivate());
        List<X509Certificate> chain = List.of(leaf, f.appCa, f.rootCa);
        RaException e = raFailure(chain, f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MISSING);
        assertThat(e.field()).contains(RaTlsCertificate.OID_ATTESTATION);
        // a KMS-issued certificate without ext_quote: accepted when the attestation is optional
        assertThat(f.verifier().attestationRequired(false).build().verify(chain, NOW).report()).isEmpty();
    }

    @Test
    void missingUsage_isAUsageMismatch() throws Exception {
        X509Certificate leaf = f.leaf(leafKey.getPublic()).usage(null)
                .attestation(f.attestationFor(leafKey.getPublic()).encode()).signedBy(f.appCa, f.appCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_USAGE_MISMATCH);
    }

    @Test
    void chainOutOfOrder() throws Exception {
        RaException e = raFailure(List.of(honest.get(0), f.rootCa, f.appCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_CHAIN_INVALID);
        assertThat(e.field()).isEqualTo("chain[0].issuer");
    }

    @Test
    void emptyChain() throws Exception {
        assertThat(raFailure(List.of(), f.verifier().build()).raReason())
                .isEqualTo(RaException.Reason.CERT_CHAIN_INVALID);
    }

    @Test
    void forgedLinkSignature() throws Exception {
        // claims the app CA as issuer (same DN) but is signed by another key
        X509Certificate leaf = RaTlsFixtures.raw(leafKey, f.appCa, p256().getPrivate(), Map.of());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_CHAIN_INVALID);
        assertThat(e.field()).isEqualTo("chain[0].signature");
    }

    @Test
    void issuerThatIsNotACa() throws Exception {
        KeyPair middleKey = p256();
        X509Certificate middle = f.leaf(middleKey.getPublic()).signedBy(f.appCa, f.appCaKey.getPrivate());
        X509Certificate leaf = f.leaf(leafKey.getPublic()).attestation(f.attestationFor(leafKey.getPublic())
                .encode()).signedBy(middle, middleKey.getPrivate());
        RaException e = raFailure(List.of(leaf, middle, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_NOT_A_CA);
        assertThat(e.field()).isEqualTo("chain[1].basicConstraints");
    }

    @Test
    void pathLengthExceeded() throws Exception {
        KeyPair subCaKey = p256();
        X509Certificate subCa = RaTlsCertificate.builder().subject("Sub CA").caLevel(0).clock(CLOCK)
                .notBefore(NOW.minus(Duration.ofDays(1))).publicKey(subCaKey.getPublic())
                .signedBy(f.appCa, f.appCaKey.getPrivate());
        X509Certificate leaf = f.leaf(leafKey.getPublic()).attestation(f.attestationFor(leafKey.getPublic())
                .encode()).signedBy(subCa, subCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, subCa, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_NOT_A_CA);
        assertThat(e.field()).isEqualTo("chain[2].basicConstraints.pathLen");
    }

    @Test
    void trailingBytesInAnExtension() throws Exception {
        Map<String, byte[]> ext = new LinkedHashMap<>();
        byte[] usage = RaTlsFixtures.wrap(RaTlsCertificate.USAGE_APP_CUSTOM.getBytes(StandardCharsets.UTF_8));
        byte[] trailing = java.util.Arrays.copyOf(usage, usage.length + 1);
        ext.put(RaTlsCertificate.OID_CERT_USAGE, trailing);
        X509Certificate leaf = RaTlsFixtures.raw(leafKey, f.appCa, f.appCaKey.getPrivate(), ext);
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.field()).contains(RaTlsCertificate.OID_CERT_USAGE);
        assertThat(e.getMessage()).contains("trailing");
    }

    @Test
    void runtimeEventsThatDifferFromTheLog() throws Exception {
        VersionedAttestation a = f.attestationFor(leafKey.getPublic());
        List<RuntimeEvent> fewer = new ArrayList<>(a.runtimeEvents());
        fewer.remove(fewer.size() - 1);
        VersionedAttestation changed = new VersionedAttestation(0, a.quote(), a.eventLog(), fewer, a.reportData(),
                a.config(), null);
        X509Certificate leaf = f.leaf(leafKey.getPublic()).attestation(changed.encode())
                .signedBy(f.appCa, f.appCaKey.getPrivate());
        RaException e = raFailure(List.of(leaf, f.appCa, f.rootCa), f.verifier().build());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.field()).isEqualTo("attestation.runtime_events");
    }

    @Test
    void tamperedRuntimeEvent_rtmr3Mismatch() throws Exception {
        VersionedAttestation a = f.attestationFor(leafKey.getPublic());
        List<TdxEvent> log = new ArrayList<>();
        List<RuntimeEvent> runtime = new ArrayList<>();
        for (TdxEvent e : a.eventLog()) {
            TdxEvent t = e.isRuntimeEvent() && e.event().equals("compose-hash")
                    ? TdxEvent.of(e.imr(), e.eventType(), new byte[0], e.event(), new byte[32]) : e;
            log.add(t);
            if (t.isRuntimeEvent()) {
                runtime.add(t.toRuntimeEvent());
            }
        }
        VersionedAttestation changed = new VersionedAttestation(0, a.quote(), log, runtime, a.reportData(),
                a.config(), null);
        X509Certificate leaf = f.leaf(leafKey.getPublic()).attestation(changed.encode())
                .signedBy(f.appCa, f.appCaKey.getPrivate());
        AttestationException e = assertThrows(AttestationException.class,
                () -> f.verifier().build().verify(List.of(leaf, f.appCa, f.rootCa), NOW));
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.RTMR_MISMATCH);
    }

    @Test
    void legacyQuoteAndGzipEventLog_verify() throws Exception {
        SimulatedCvm.GetQuoteResponse q = f.cvm.getQuote(RaTlsCertificate.reportData(leafKey.getPublic()));
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        gz.writeBytes(RaTlsCertificate.EVENT_LOG_GZIP_MAGIC.getBytes(StandardCharsets.US_ASCII));
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(q.eventLog().getBytes(StandardCharsets.UTF_8));
        }
        Map<String, byte[]> ext = new LinkedHashMap<>();
        ext.put(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(q.quote()));
        ext.put(RaTlsCertificate.OID_EVENT_LOG, RaTlsFixtures.wrap(gz.toByteArray()));
        X509Certificate leaf = RaTlsFixtures.raw(leafKey, f.appCa, f.appCaKey.getPrivate(), ext);
        RaTlsVerifier.Result r = f.verifier().anyUsage().build().verify(List.of(leaf, f.appCa, f.rootCa), NOW);
        assertThat(r.leaf().legacyAttestation()).isTrue();
        assertThat(r.report().orElseThrow().appId()).contains(f.cvm.appId());
    }

    @Test
    void signCertFlow_csrToVerifiedLeaf() throws Exception {
        // a guest asks the KMS to sign its key (SignCert v2), the KMS signs with the app CA, a peer verifies
        KeyPair k = p256();
        VersionedAttestation a = f.attestationFor(k.getPublic());
        CertConfig config = CertConfig.builder().subject("guest.example.com").subjectAltNames(List.of("guest.example.com"))
                .usageServerAuth(true).extQuote(true).extAppInfo(true)
                .notBefore(java.util.OptionalLong.of(NOW.minusSeconds(60).getEpochSecond()))
                .notAfter(java.util.OptionalLong.of(NOW.plus(Duration.ofDays(30)).getEpochSecond())).build();
        CertSigningRequest csr = CertSigningRequest.create(k.getPublic(), config, a.encode());
        byte[] sig = csr.sign(k.getPrivate());

        CertSigningRequest received = CertSigningRequest.decode(csr.encode(), 2);
        received.verifySignature(sig);
        X509Certificate leaf = RaTlsCertificate.builder().fromCsr(received).appId(APP_ID)
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).signedBy(f.appCa, f.appCaKey.getPrivate());
        assertThat(leaf.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(30)));
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
        RaTlsVerifier.Result r = f.verifier().build().verify(List.of(leaf, f.appCa, f.rootCa), NOW);
        assertThat(r.appInfo()).contains(a.appInfo(false));
        assertThat(r.report()).isPresent();
    }

    @Test
    void fromCsr_timeBeyondX509() throws Exception {
        KeyPair k = p256();
        CertConfig config = CertConfig.builder().subject("x").notAfter(java.util.OptionalLong.of(Long.MAX_VALUE))
                .build();
        CertSigningRequest csr = CertSigningRequest.create(k.getPublic(), config, f.attestationFor(k.getPublic())
                .encode());
        RaException e = assertThrows(RaException.class, () -> RaTlsCertificate.builder().fromCsr(csr));
        assertThat(e.field()).isEqualTo("config.not_after");
    }

    @Test
    void msgpackV1Attestation_verifies() throws Exception {
        KeyPair k = p256();
        X509Certificate leaf = f.leaf(k.getPublic()).attestation(f.attestationFor(k.getPublic()).withVersion(1)
                .encode()).signedBy(f.appCa, f.appCaKey.getPrivate());
        RaTlsVerifier.Result r = f.verifier().build().verify(List.of(leaf, f.appCa, f.rootCa), NOW);
        assertThat(r.leaf().versionedAttestation().orElseThrow().version()).isEqualTo(1);
        assertThat(r.report()).isPresent();
    }

    @Test
    void theJdkPkixValidatorAcceptsTheChain() throws Exception {
        // the custom extensions are non-critical, so a standard X.509 stack validates the same chain
        java.security.cert.CertPath path = java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertPath(honest.subList(0, 2));
        java.security.cert.PKIXParameters params = new java.security.cert.PKIXParameters(
                java.util.Set.of(new java.security.cert.TrustAnchor(f.rootCa, null)));
        params.setRevocationEnabled(false);
        params.setDate(java.util.Date.from(NOW));
        java.security.cert.CertPathValidator.getInstance("PKIX").validate(path, params);
    }

    @Test
    void builderGuards() {
        assertThrows(IllegalStateException.class, () -> RaTlsVerifier.builder().trustedCa(f.rootCa).build());
        assertThrows(IllegalStateException.class, () -> RaTlsVerifier.builder().trustedCa(f.rootCa)
                .dstackVerifier(f.dstackVerifier()).build());
    }
}
