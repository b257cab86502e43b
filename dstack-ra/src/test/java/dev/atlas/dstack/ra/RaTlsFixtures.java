package dev.atlas.dstack.ra;

import dev.atlas.dstack.DstackTdxVerifier;
import dev.atlas.dstack.ra.internal.TdxEventLogJson;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralSource;
import dev.atlas.tdx.QuoteVerifier;
import dev.atlas.testing.SimulatedCvm;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A dstack-like PKI for tests: a KMS root CA ({@code O=Dstack, CN=Dstack KMS CA}, level 1), an app CA
 * ({@code O=Dstack, CN=Dstack App CA}, level 0, usage {@code app:ca}), and leaves whose attestation comes from a
 * {@link SimulatedCvm} quoting over the leaf key, plus the {@link DstackTdxVerifier} that trusts the CVM's mock
 * Intel root. Time is fixed at {@link #NOW}.
 */
final class RaTlsFixtures {
    static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
    static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    static final byte[] APP_ID = bytes(20, 0x5a);

    final SimulatedCvm cvm;
    final KeyPair rootKey = p256();
    final X509Certificate rootCa;
    final KeyPair appCaKey = p256();
    final X509Certificate appCa;

    RaTlsFixtures() throws RaException {
        this(SimulatedCvm.builder().seed(7).clock(CLOCK).build());
    }

    RaTlsFixtures(SimulatedCvm cvm) throws RaException {
        this.cvm = cvm;
        this.rootCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA").caLevel(1)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).selfSigned(rootKey);
        this.appCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack App CA").caLevel(0)
                .appId(APP_ID).usage(RaTlsCertificate.USAGE_APP_CA).notBefore(NOW.minus(Duration.ofDays(1)))
                .clock(CLOCK).publicKey(appCaKey.getPublic()).signedBy(rootCa, rootKey.getPrivate());
    }

    static KeyPair p256() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] bytes(int n, int v) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) v);
        return b;
    }

    /** A full V0 attestation from the CVM over {@code reportData} (64 bytes). */
    VersionedAttestation attestation(byte[] reportData) throws RaException {
        SimulatedCvm.GetQuoteResponse r = cvm.getQuote(reportData);
        List<TdxEvent> log = TdxEventLogJson.parse(r.eventLog().getBytes(StandardCharsets.UTF_8), 1 << 22, "log");
        return new VersionedAttestation(0, r.quote(), log, TdxEventLogJson.runtimeEvents(log), r.reportData(),
                r.vmConfig(), null);
    }

    /** An attestation bound to {@code key}. */
    VersionedAttestation attestationFor(PublicKey key) throws RaException {
        return attestation(RaTlsCertificate.reportData(key));
    }

    /** A leaf builder for {@code key}: usage app:custom, app id, server+client auth, valid from a day ago. */
    RaTlsCertificate.Builder leaf(PublicKey key) {
        return RaTlsCertificate.builder().subject("app.example.com").altNames(List.of("app.example.com"))
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM).appId(APP_ID).serverAuth(true).clientAuth(true)
                .notBefore(NOW.minus(Duration.ofDays(1))).clock(CLOCK).publicKey(key);
    }

    /** leaf → app CA → root CA, the leaf attested over its own key. */
    List<X509Certificate> honestChain(KeyPair leafKey) throws RaException {
        X509Certificate leaf = leaf(leafKey.getPublic()).attestation(attestationFor(leafKey.getPublic()).encode())
                .signedBy(appCa, appCaKey.getPrivate());
        return List.of(leaf, appCa, rootCa);
    }

    DstackTdxVerifier dstackVerifier() throws Exception {
        return DstackTdxVerifier.builder()
                .quoteVerifier(QuoteVerifier.builder().insecureTrustAnchorForTesting(cvm.rootCertificate()).build())
                .collateralSource(CollateralSource.fixed(Collateral.fromJson(cvm.collateralJson())))
                .clock(CLOCK)
                .build();
    }

    RaTlsVerifier.Builder verifier() throws Exception {
        return RaTlsVerifier.builder().trustedCa(rootCa).dstackVerifier(dstackVerifier())
                .usage(RaTlsCertificate.USAGE_APP_CUSTOM);
    }

    /**
     * A certificate made with Bouncy Castle directly, with raw extension values: {@code rawExtensions} maps an
     * OID to the DER placed inside {@code extnValue} (so a well-formed dstack payload is
     * {@code new DEROctetString(payload).getEncoded()}).
     */
    static X509Certificate raw(KeyPair subject, X509Certificate issuer, PrivateKey issuerKey,
            Map<String, byte[]> rawExtensions) throws Exception {
        X500Name issuerName = X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
        X509v3CertificateBuilder b = new X509v3CertificateBuilder(issuerName, BigInteger.valueOf(42),
                Date.from(NOW.minus(Duration.ofDays(1))), Date.from(NOW.plus(Duration.ofDays(30))),
                new X500Name("CN=raw.example.com"), SubjectPublicKeyInfo.getInstance(subject.getPublic().getEncoded()));
        for (Map.Entry<String, byte[]> e : rawExtensions.entrySet()) {
            b.addExtension(new ASN1ObjectIdentifier(e.getKey()), false, e.getValue());
        }
        byte[] der = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)).getEncoded();
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new java.io.ByteArrayInputStream(der));
    }

    static byte[] wrap(byte[] payload) throws java.io.IOException {
        return new DEROctetString(payload).getEncoded();
    }

}
