package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.dstack.ra.internal.ScaleWriter;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * {@code SignCert} CSRs against upstream's vectors ({@code ra-tls/src/cert.rs}
 * {@code test_csr_v2_scale_encoding_stable*}), version 1 upgrade, signatures, and one-change rejections.
 */
class CertSigningRequestTest {
    private static final HexFormat HEX = HexFormat.of();
    /** Upstream {@code test_csr_v2_scale_encoding_stable}: pubkey [1,2,3], empty TDX attestation. */
    static final String UPSTREAM_V2 = "44706c65617365207369676e20636572743a0c0102030040746573742e6578616d706c652e636f6d"
            + "0001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
            + "000000000000000000000000000000000000000000000000000000";
    /** Upstream {@code test_csr_v2_scale_encoding_stable_with_tdx_quote}: ext_quote, quote [9]. */
    static final String UPSTREAM_V2_QUOTE = "44706c65617365207369676e20636572743a0c0102030040746573742e6578616d706c652e"
            + "636f6d00010001000000000004090000000000000000000000000000000000000000000000000000000000000000000000000000"
            + "0000000000000000000000000000000000000000000000000000000000";
    private static final KeyPair KEY = RaTlsFixtures.p256();

    /** Upstream's vector with its 3-byte placeholder key replaced by a real P-256 SPKI (compact length 91). */
    static byte[] withRealKey(String upstreamHex, byte[] spki) {
        byte[] up = HEX.parseHex(upstreamHex);
        byte[] head = Arrays.copyOfRange(up, 0, 18); // compact(17) + "please sign cert:"
        byte[] tail = Arrays.copyOfRange(up, 18 + 4, up.length); // after 0c 01 02 03
        return dev.atlas.dstack.ra.internal.Bytes.concat(head, new ScaleWriter().bytes(spki).toByteArray(), tail);
    }

    private static byte[] attestationOf(String upstreamHex) {
        byte[] up = HEX.parseHex(upstreamHex);
        // confirm(18) pubkey(4) org(1) subject(17) sans(1) 4 bools + 2 options = 6
        return Arrays.copyOfRange(up, 18 + 4 + 1 + 17 + 1 + 6, up.length);
    }

    @Test
    void upstreamVector_layout_withARealKey() throws Exception {
        for (String vector : List.of(UPSTREAM_V2, UPSTREAM_V2_QUOTE)) {
            byte[] spki = KEY.getPublic().getEncoded();
            byte[] csr = withRealKey(vector, spki);
            CertSigningRequest r = CertSigningRequest.decode(csr, 2);
            CertConfig c = r.config();
            assertThat(c.orgName()).isEmpty();
            assertThat(c.subject()).isEqualTo("test.example.com");
            assertThat(c.subjectAltNames()).isEmpty();
            assertThat(c.usageServerAuth()).isTrue();
            assertThat(c.usageClientAuth()).isFalse();
            assertThat(c.extQuote()).isEqualTo(vector.equals(UPSTREAM_V2_QUOTE));
            assertThat(c.extAppInfo()).isFalse();
            assertThat(c.notBefore()).isEmpty();
            assertThat(c.notAfter()).isEmpty();
            assertThat(r.spki()).isEqualTo(spki);
            assertThat(r.attestation()).isEqualTo(attestationOf(vector));
            assertThat(r.versionedAttestation().quote())
                    .isEqualTo(vector.equals(UPSTREAM_V2_QUOTE) ? new byte[] {9} : new byte[0]);
            assertThat(r.encode()).isEqualTo(csr);
            // and made from parts, the same bytes
            assertThat(CertSigningRequest.create(KEY.getPublic(), c, attestationOf(vector)).encode()).isEqualTo(csr);
        }
    }

    @Test
    void upstreamVectorItself_hasAPlaceholderKey() {
        RaException e = assertThrows(RaException.class,
                () -> CertSigningRequest.decode(HEX.parseHex(UPSTREAM_V2), 2));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CSR_PUBLIC_KEY_INVALID);
        assertThat(e.field()).isEqualTo("csr.pubkey");
    }

    private static CertConfig fullConfig() {
        return CertConfig.builder().orgName("Test Org").subject("test.example.com")
                .subjectAltNames(List.of("alt.example.com", "203.0.113.10")).usageServerAuth(true)
                .usageClientAuth(true).extQuote(true).extAppInfo(true).notBefore(OptionalLong.of(1_700_000_000L))
                .notAfter(OptionalLong.of(1_800_000_000L)).build();
    }

    private static CertSigningRequest full() {
        return CertSigningRequest.create(KEY.getPublic(), fullConfig(), attestationOf(UPSTREAM_V2_QUOTE));
    }

    @Test
    void everyField_roundTrips_andTheOptionsEncodeAsScale() throws Exception {
        CertSigningRequest r = full();
        byte[] csr = r.encode();
        CertSigningRequest back = CertSigningRequest.decode(csr, 2);
        assertThat(back.config()).isEqualTo(fullConfig());
        assertThat(back).isEqualTo(r);
        // Some("Test Org") = 01 20 "Test Org"; not_before Some(u64 LE)
        assertThat(HEX.formatHex(csr)).contains("01" + "20" + HEX.formatHex("Test Org".getBytes(StandardCharsets.UTF_8)));
        assertThat(HEX.formatHex(csr)).contains("01" + "00f1536500000000" + "01" + "00d2496b00000000");
        assertThat(r.toString()).doesNotContain("BEGIN");
    }

    @Test
    void signAndVerify() throws Exception {
        CertSigningRequest r = full();
        byte[] sig = r.sign(KEY.getPrivate());
        CertSigningRequest.decode(r.encode(), 2).verifySignature(sig);
    }

    @Test
    void signatureWithAFlippedByte() throws Exception {
        CertSigningRequest r = full();
        byte[] sig = r.sign(KEY.getPrivate());
        sig[sig.length - 1] ^= 1;
        RaException e = assertThrows(RaException.class, () -> r.verifySignature(sig));
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CSR_SIGNATURE_INVALID);
    }

    @Test
    void signatureByAnotherKey() {
        CertSigningRequest r = full();
        KeyPair other = RaTlsFixtures.p256();
        byte[] sig = CertSigningRequest.create(other.getPublic(), fullConfig(), attestationOf(UPSTREAM_V2))
                .sign(other.getPrivate());
        assertThat(assertThrows(RaException.class, () -> r.verifySignature(sig)).raReason())
                .isEqualTo(RaException.Reason.CSR_SIGNATURE_INVALID);
        assertThrows(IllegalArgumentException.class, () -> r.sign(other.getPrivate()));
    }

    @Test
    void signatureNotDer() {
        CertSigningRequest r = full();
        assertThat(assertThrows(RaException.class, () -> r.verifySignature(new byte[64])).raReason())
                .isEqualTo(RaException.Reason.CSR_SIGNATURE_INVALID);
    }

    @Test
    void signatureOverAChangedCsr() throws Exception {
        CertSigningRequest r = full();
        byte[] sig = r.sign(KEY.getPrivate());
        byte[] changed = r.encode();
        changed[changed.length - 2] ^= 1; // the last report-data byte (the empty config string follows)
        CertSigningRequest c = CertSigningRequest.decode(changed, 2);
        assertThat(assertThrows(RaException.class, () -> c.verifySignature(sig)).raReason())
                .isEqualTo(RaException.Reason.CSR_SIGNATURE_INVALID);
    }

    private static RaException decodeFails(byte[] csr, int version) {
        return assertThrows(RaException.class, () -> CertSigningRequest.decode(csr, version));
    }

    private static int offsetOfFlags(byte[] csr) {
        // confirm 18, pubkey 2+91, org 1+1+8, subject 1+16, sans 1 + (1+15) + (1+12)
        return 18 + 93 + 10 + 17 + 1 + 16 + 13;
    }

    @Test
    void wrongConfirmWord() {
        byte[] csr = full().encode();
        csr[1] = 'P';
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CSR_CONFIRM_MISMATCH);
        assertThat(e.field()).isEqualTo("csr.confirm");
    }

    @Test
    void boolThatIsNotZeroOrOne() {
        byte[] csr = full().encode();
        csr[offsetOfFlags(csr)] = 2;
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.WRONG_TYPE);
        assertThat(e.field()).isEqualTo("csr.config.usage_server_auth");
    }

    @Test
    void optionTagThatIsNotZeroOrOne() {
        byte[] csr = full().encode();
        csr[offsetOfFlags(csr) + 4] = 2;
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.UNKNOWN_VARIANT);
        assertThat(e.field()).isEqualTo("csr.config.not_before");
    }

    @Test
    void nonCanonicalCompactLength() {
        byte[] csr = full().encode();
        // confirm length 17 written in two bytes: (17 << 2 | 1) little-endian
        byte[] bad = dev.atlas.dstack.ra.internal.Bytes.concat(new byte[] {(byte) 0x45, 0x00},
                Arrays.copyOfRange(csr, 1, csr.length));
        assertThat(decodeFails(bad, 2).raReason()).isEqualTo(RaException.Reason.NON_CANONICAL);
    }

    @Test
    void truncatedInsideTheConfig() {
        byte[] csr = Arrays.copyOf(full().encode(), offsetOfFlags(full().encode()) + 2);
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.TRUNCATED);
    }

    @Test
    void noAttestation() {
        byte[] csr = Arrays.copyOf(full().encode(), offsetOfFlags(full().encode()) + 4 + 18);
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.TRUNCATED);
        assertThat(e.field()).isEqualTo("attestation");
    }

    @Test
    void attestationWithAnUnknownFirstByte() {
        byte[] csr = full().encode();
        csr[offsetOfFlags(csr) + 4 + 18] = 0x42;
        assertThat(decodeFails(csr, 2).raReason()).isEqualTo(RaException.Reason.UNKNOWN_VERSION);
    }

    @Test
    void attestationWithTrailingBytes() {
        byte[] csr = dev.atlas.dstack.ra.internal.Bytes.concat(full().encode(), new byte[] {0});
        assertThat(decodeFails(csr, 2).raReason()).isEqualTo(RaException.Reason.TRAILING_BYTES);
    }

    @Test
    void unsupportedApiVersion() {
        RaException e = decodeFails(full().encode(), 3);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CSR_UNSUPPORTED_VERSION);
        assertThat(e.reason()).isEqualTo(dev.atlas.tdx.AttestationException.Reason.UNSUPPORTED_VERSION);
    }

    @Test
    void tooLarge() {
        assertThat(decodeFails(new byte[CertSigningRequest.MAX_BYTES + 1], 2).raReason())
                .isEqualTo(RaException.Reason.TOO_LARGE);
    }

    @Test
    void compressedPublicKey() {
        byte[] spki = KEY.getPublic().getEncoded();
        byte[] csr = withRealKey(UPSTREAM_V2, spki);
        csr[18 + 2 + 26] = 0x02; // the point's form byte
        RaException e = decodeFails(csr, 2);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CSR_PUBLIC_KEY_INVALID);
    }

    @Test
    void pointOffTheCurve() {
        byte[] spki = KEY.getPublic().getEncoded();
        byte[] csr = withRealKey(UPSTREAM_V2, spki);
        csr[18 + 2 + 90] ^= 1; // last byte of Y
        assertThat(decodeFails(csr, 2).raReason()).isEqualTo(RaException.Reason.CSR_PUBLIC_KEY_INVALID);
    }

    // ---- version 1 -------------------------------------------------------------------------------------------

    static final String EVENT_LOG = "[{\"imr\":0,\"event_type\":1,\"digest\":\"" + "ab".repeat(48)
            + "\",\"event\":\"\",\"event_payload\":\"\"},"
            + "{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"app-id\",\"event_payload\":\""
            + "11".repeat(20) + "\"}]";

    static byte[] v1(byte[] spki, byte[] quote, String eventLog) {
        ScaleWriter w = new ScaleWriter().string(CertSigningRequest.CONFIRM).bytes(spki);
        w.u8(1).string("Test Org").string("test.example.com").compact(1).string("alt.example.com");
        w.bool(true).bool(false).bool(true);
        w.bytes(quote).bytes(eventLog.getBytes(StandardCharsets.UTF_8));
        return w.toByteArray();
    }

    @Test
    void version1_isUpgradedAsDstackDoes() throws Exception {
        byte[] quote = Shared.bytes("ra-tls-tdx_quote");
        byte[] csr = v1(KEY.getPublic().getEncoded(), quote, EVENT_LOG);
        CertSigningRequest r = CertSigningRequest.decode(csr, 1);
        assertThat(r.apiVersion()).isEqualTo(1);
        assertThat(r.config()).isEqualTo(CertConfig.builder().orgName("Test Org").subject("test.example.com")
                .subjectAltNames(List.of("alt.example.com")).usageServerAuth(true).extQuote(true).build());
        VersionedAttestation a = r.versionedAttestation();
        assertThat(a.version()).isZero();
        assertThat(a.quote()).isEqualTo(quote);
        assertThat(a.reportData()).isEqualTo(Arrays.copyOfRange(quote, 568, 632));
        assertThat(a.config()).isEmpty();
        assertThat(a.eventLog()).hasSize(2);
        assertThat(a.runtimeEvents()).containsExactly(RuntimeEvent.v1("app-id", RaTlsFixtures.bytes(20, 0x11)));
        // the signature covers the version 1 bytes, not the upgraded ones
        byte[] sig = signRaw(csr);
        r.verifySignature(sig);
        assertThat(assertThrows(RaException.class, () -> r.verifySignature(signRaw(r.encode()))).raReason())
                .isEqualTo(RaException.Reason.CSR_SIGNATURE_INVALID);
        // the upgraded request is a version 2 request
        assertThat(CertSigningRequest.decode(r.encode(), 2).config()).isEqualTo(r.config());
    }

    private static byte[] signRaw(byte[] bytes) throws Exception {
        java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initSign(KEY.getPrivate());
        s.update(bytes);
        return s.sign();
    }

    @Test
    void version1_withoutAQuote_cannotBeUpgraded() {
        // upstream's own v1 test request (empty quote and event log) fails the same way in dstack's KMS
        RaException e = decodeFails(v1(KEY.getPublic().getEncoded(), new byte[0], "[]"), 1);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.BAD_QUOTE);
        assertThat(e.field()).isEqualTo("csr.quote");
        RaException notJson = decodeFails(v1(KEY.getPublic().getEncoded(), new byte[0], ""), 1);
        assertThat(notJson.raReason()).isEqualTo(RaException.Reason.WRONG_TYPE);
        assertThat(notJson.field()).isEqualTo("csr.event_log");
    }

    @Test
    void version1_trailingBytes() {
        byte[] csr = dev.atlas.dstack.ra.internal.Bytes.concat(v1(KEY.getPublic().getEncoded(), new byte[0], "[]"),
                new byte[] {0});
        assertThat(decodeFails(csr, 1).raReason()).isEqualTo(RaException.Reason.TRAILING_BYTES);
    }

    @Test
    void version1_eventLogWithAnUnknownField() {
        byte[] quote = Shared.bytes("ra-tls-tdx_quote");
        String log = "[{\"imr\":3,\"event_type\":1,\"digest\":\"\",\"event\":\"x\",\"event_payload\":\"\",\"extra\":1}]";
        RaException e = decodeFails(v1(KEY.getPublic().getEncoded(), quote, log), 1);
        assertThat(e.raReason()).isEqualTo(RaException.Reason.UNKNOWN_FIELD);
        assertThat(e.field()).isEqualTo("csr.event_log[0].extra");
    }

    @Test
    void createRejectsBadInput() {
        assertThrows(IllegalArgumentException.class,
                () -> CertSigningRequest.create(KEY.getPublic(), fullConfig(), new byte[] {0x42}));
        KeyPair rsa;
        try {
            java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
            g.initialize(1024);
            rsa = g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        assertThrows(IllegalArgumentException.class,
                () -> CertSigningRequest.create(rsa.getPublic(), fullConfig(), attestationOf(UPSTREAM_V2)));
    }
}
