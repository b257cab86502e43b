package dev.atlas.dstack.ra;

import static dev.atlas.dstack.ra.RaTlsFixtures.CLOCK;
import static dev.atlas.dstack.ra.RaTlsFixtures.NOW;
import static dev.atlas.dstack.ra.RaTlsFixtures.p256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/** Building (§2.6 layout) and strict parsing of dstack's RA-TLS certificates. */
class RaTlsCertificateTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final KeyPair KEY = p256();
    private static final KeyPair CA_KEY = p256();

    private static X509Certificate ca() throws RaException {
        return RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1).clock(CLOCK)
                .selfSigned(CA_KEY);
    }

    @Test
    void reportData_isSha512OfTagColonSpki() throws Exception {
        byte[] expected = java.security.MessageDigest.getInstance("SHA-512").digest(
                dev.atlas.dstack.ra.internal.Bytes.concat("ratls-cert:".getBytes(StandardCharsets.US_ASCII),
                        KEY.getPublic().getEncoded()));
        assertThat(RaTlsCertificate.reportData(KEY.getPublic())).isEqualTo(expected).hasSize(64);
        assertThat(RaTlsCertificate.reportData("app-data", new byte[0])).isEqualTo(
                java.security.MessageDigest.getInstance("SHA-512").digest("app-data:".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void caCertificate_layout() throws Exception {
        X509Certificate ca = ca();
        // RDN order: O then CN (rcgen pushes org first); the JDK prints RFC 2253 in reverse
        assertThat(ca.getSubjectX500Principal().getName()).isEqualTo("CN=Dstack KMS CA,O=Dstack");
        assertThat(ca.getIssuerX500Principal()).isEqualTo(ca.getSubjectX500Principal());
        assertThat(ca.getBasicConstraints()).isEqualTo(1);
        assertThat(ca.getCriticalExtensionOIDs()).containsExactlyInAnyOrder("2.5.29.15", "2.5.29.19");
        boolean[] ku = ca.getKeyUsage();
        assertThat(ku[0]).isTrue(); // digitalSignature
        assertThat(ku[5]).isTrue(); // keyCertSign
        assertThat(ku[6]).isTrue(); // cRLSign
        assertThat(ku[1] || ku[2] || ku[3] || ku[4]).isFalse();
        assertThat(ca.getExtensionValue("2.5.29.14")).isNotNull(); // subjectKeyIdentifier
        assertThat(ca.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(ca.getExtendedKeyUsage()).isNull();
        ca.verify(CA_KEY.getPublic());
    }

    @Test
    void defaults_rcgenNotBefore_nowPlus3650Days_randomSerial() throws Exception {
        X509Certificate a = ca();
        assertThat(a.getNotBefore().toInstant()).isEqualTo(Instant.parse("1975-01-01T00:00:00Z"));
        assertThat(a.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(3650)));
        BigInteger serial = a.getSerialNumber();
        assertThat(serial.signum()).isPositive();
        assertThat(serial.bitLength()).isLessThanOrEqualTo(159);
        assertThat(ca().getSerialNumber()).isNotEqualTo(serial);
        assertThat(RaTlsCertificate.builder().subject("x").serial(BigInteger.TEN).clock(CLOCK).selfSigned(KEY)
                .getSerialNumber()).isEqualTo(BigInteger.TEN);
    }

    @Test
    void leaf_layout_andExtensionsDoubleWrapped() throws Exception {
        AppInfo info = new AppInfo(new byte[20], new byte[32], new byte[20], new byte[32], new byte[32], new byte[32],
                new byte[32], "{}".getBytes(StandardCharsets.UTF_8), null);
        byte[] appId = RaTlsFixtures.bytes(20, 7);
        X509Certificate leaf = RaTlsCertificate.builder().subject("app.example.com")
                .altNames(List.of("app.example.com", "203.0.113.10", "::1")).usage("app:custom").appId(appId)
                .appInfo(info).serverAuth(true).clientAuth(true).notBefore(NOW).notAfter(NOW.plusSeconds(3600))
                .publicKey(KEY.getPublic()).signedBy(ca(), CA_KEY.getPrivate());
        assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=app.example.com");
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getExtensionValue("2.5.29.19")).isNull();
        assertThat(leaf.getKeyUsage()[0]).isTrue();
        assertThat(leaf.getKeyUsage()[5]).isFalse();
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getSubjectAlternativeNames()).extracting(l -> l.get(0) + "=" + l.get(1))
                .containsExactly("2=app.example.com", "7=203.0.113.10", "7=0:0:0:0:0:0:0:1");
        assertThat(leaf.getNonCriticalExtensionOIDs()).contains(RaTlsCertificate.OID_APP_ID,
                RaTlsCertificate.OID_APP_INFO, RaTlsCertificate.OID_CERT_USAGE);
        // extnValue = OCTET STRING { OCTET STRING { payload } }
        byte[] usage = "app:custom".getBytes(StandardCharsets.UTF_8);
        assertThat(HEX.formatHex(leaf.getExtensionValue(RaTlsCertificate.OID_CERT_USAGE)))
                .isEqualTo("040c040a" + HEX.formatHex(usage));
        assertThat(HEX.formatHex(leaf.getExtensionValue(RaTlsCertificate.OID_APP_ID)))
                .isEqualTo("04160414" + HEX.formatHex(appId));
        RaTlsCertificate p = RaTlsCertificate.parse(leaf);
        assertThat(p.usage()).contains("app:custom");
        assertThat(p.appId()).get().isEqualTo(appId);
        assertThat(p.appInfo()).contains(info);
        assertThat(p.attestation()).isEmpty();
        assertThat(p.toString()).contains("app:custom");
    }

    @Test
    void attestation_isStrippedWhenEmbedded() throws Exception {
        byte[] full = Shared.bytes("guest-agent-attestation.bin");
        VersionedAttestation a = VersionedAttestation.decode(full);
        X509Certificate cert = RaTlsCertificate.builder().subject("RA-TLS TEMP Cert").attestation(full).clock(CLOCK)
                .publicKey(KEY.getPublic()).signedBy(ca(), CA_KEY.getPrivate());
        RaTlsCertificate p = RaTlsCertificate.parse(cert);
        assertThat(p.versionedAttestation()).contains(a.stripped());
        assertThat(p.attestation()).get().isEqualTo(a.stripped().encode());
        assertThat(p.legacyAttestation()).isFalse();
        assertThat(p.versionedAttestation().orElseThrow().eventLog().size()).isLessThan(a.eventLog().size());
    }

    @Test
    void builderGuards() throws Exception {
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x")
                .appId(new byte[19]).clock(CLOCK).selfSigned(KEY)).raReason())
                .isEqualTo(RaException.Reason.INVALID_ARGUMENT);
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().clock(CLOCK).selfSigned(KEY))
                .field()).isEqualTo("subject");
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x")
                .signedBy(ca(), CA_KEY.getPrivate())).field()).isEqualTo("publicKey");
        // the issuer key must belong to the issuer certificate
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x").clock(CLOCK)
                .publicKey(KEY.getPublic()).signedBy(ca(), KEY.getPrivate())).field()).isEqualTo("issuerKey");
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x")
                .notBefore(NOW).notAfter(NOW.minusSeconds(1)).selfSigned(KEY)).field()).isEqualTo("notAfter");
        assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x").attestation(new byte[] {0x42})
                .clock(CLOCK).selfSigned(KEY));
        assertThrows(IllegalArgumentException.class, () -> RaTlsCertificate.builder().caLevel(256));
        assertThat(assertThrows(RaException.class, () -> RaTlsCertificate.builder().subject("x")
                .altNames(List.of("bücher.example")).clock(CLOCK).selfSigned(KEY)).field()).isEqualTo("altNames");
    }

    // ---- strict parsing, one change each -------------------------------------------------------------------

    private static RaException parseFails(Map<String, byte[]> ext) throws Exception {
        X509Certificate cert = RaTlsFixtures.raw(KEY, ca(), CA_KEY.getPrivate(), ext);
        return assertThrows(RaException.class, () -> RaTlsCertificate.parse(cert));
    }

    private static Map<String, byte[]> one(String oid, byte[] rawInner) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(oid, rawInner);
        return m;
    }

    @Test
    void appIdOfTheWrongSize() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_APP_ID, RaTlsFixtures.wrap(new byte[19])));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.field()).isEqualTo("extension 1.3.6.1.4.1.62397.1.3 (app id)");
    }

    @Test
    void innerValueThatIsNotAnOctetString() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_CERT_USAGE, new byte[] {0x0c, 0x01, 'x'})); // UTF8String
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.getMessage()).contains("tag 0xc");
    }

    @Test
    void innerValueWithANonMinimalLength() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_CERT_USAGE, new byte[] {0x04, (byte) 0x81, 0x01, 'x'}));
        assertThat(e.getMessage()).contains("non-minimal");
    }

    @Test
    void innerValueTruncated() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_CERT_USAGE, new byte[] {0x04, 0x05, 'x'}));
        assertThat(e.getMessage()).contains("truncated");
    }

    @Test
    void usageThatIsNotUtf8() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_CERT_USAGE, RaTlsFixtures.wrap(new byte[] {(byte) 0xff})));
        assertThat(e.field()).contains(RaTlsCertificate.OID_CERT_USAGE);
        assertThat(e.getMessage()).contains("UTF-8");
    }

    @Test
    void attestationThatDoesNotDecode_namesTheExtensionAndTheInnerReason() throws Exception {
        byte[] a = VersionedAttestation.decode(Shared.bytes("guest-agent-attestation.bin")).stripped().encode();
        byte[] trailing = Arrays.copyOf(a, a.length + 1);
        RaException e = parseFails(one(RaTlsCertificate.OID_ATTESTATION, RaTlsFixtures.wrap(trailing)));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.field()).isEqualTo("extension 1.3.6.1.4.1.62397.1.8 (attestation)");
        assertThat(e.getMessage()).contains("TRAILING_BYTES");
        assertThat(((RaException) e.getCause()).raReason()).isEqualTo(RaException.Reason.TRAILING_BYTES);
    }

    @Test
    void appInfoThatDoesNotDecode() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_APP_INFO, RaTlsFixtures.wrap(new byte[] {(byte) 0x91, 0x01})));
        assertThat(e.field()).contains(RaTlsCertificate.OID_APP_INFO);
    }

    @Test
    void legacyQuoteWithoutItsEventLog() throws Exception {
        RaException e = parseFails(one(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(
                Shared.bytes("ra-tls-tdx_quote"))));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MISSING);
        assertThat(e.field()).contains(RaTlsCertificate.OID_EVENT_LOG);
    }

    private static byte[] gzip(byte[] data) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(RaTlsCertificate.EVENT_LOG_GZIP_MAGIC.getBytes(StandardCharsets.US_ASCII));
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    @Test
    void legacyQuoteAndEventLog_plainAndGzip() throws Exception {
        byte[] quote = Shared.bytes("ra-tls-tdx_quote");
        byte[] log = CertSigningRequestTest.EVENT_LOG.getBytes(StandardCharsets.UTF_8);
        for (byte[] logValue : List.of(log, gzip(log))) {
            Map<String, byte[]> m = new LinkedHashMap<>();
            m.put(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(quote));
            m.put(RaTlsCertificate.OID_EVENT_LOG, RaTlsFixtures.wrap(logValue));
            RaTlsCertificate p = RaTlsCertificate.parse(RaTlsFixtures.raw(KEY, ca(), CA_KEY.getPrivate(), m));
            assertThat(p.legacyAttestation()).isTrue();
            VersionedAttestation a = p.versionedAttestation().orElseThrow();
            assertThat(a.quote()).isEqualTo(quote);
            assertThat(a.reportData()).isEqualTo(Arrays.copyOfRange(quote, 568, 632));
            assertThat(a.runtimeEvents()).hasSize(1);
        }
    }

    @Test
    void gzipEventLog_overTheDecompressedLimit() throws Exception {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(Shared.bytes("ra-tls-tdx_quote")));
        m.put(RaTlsCertificate.OID_EVENT_LOG, RaTlsFixtures.wrap(gzip(new byte[16 * 1024 + 1])));
        RaException e = parseFails(m);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CERT_EXTENSION_MALFORMED);
        assertThat(e.getMessage()).contains("16384");
        // exactly 16 KiB is allowed (it then fails as JSON, not as a bomb)
        m.put(RaTlsCertificate.OID_EVENT_LOG, RaTlsFixtures.wrap(gzip(new byte[16 * 1024])));
        assertThat(parseFails(m).getMessage()).doesNotContain("16384");
    }

    @Test
    void gzipEventLog_badGzip() throws Exception {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(Shared.bytes("ra-tls-tdx_quote")));
        m.put(RaTlsCertificate.OID_EVENT_LOG, RaTlsFixtures.wrap("ELGZv1notgzip".getBytes(StandardCharsets.US_ASCII)));
        assertThat(parseFails(m).getMessage()).contains("bad gzip");
    }

    @Test
    void attestationExtensionWinsOverTheLegacyOnes() throws Exception {
        byte[] a = VersionedAttestation.decode(Shared.bytes("guest-agent-attestation.bin")).stripped().encode();
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put(RaTlsCertificate.OID_ATTESTATION, RaTlsFixtures.wrap(a));
        m.put(RaTlsCertificate.OID_TDX_QUOTE, RaTlsFixtures.wrap(new byte[] {1})); // ignored, as upstream
        RaTlsCertificate p = RaTlsCertificate.parse(RaTlsFixtures.raw(KEY, ca(), CA_KEY.getPrivate(), m));
        assertThat(p.legacyAttestation()).isFalse();
        assertThat(p.attestation()).get().isEqualTo(a);
    }
}
