package dev.atlas.dstack.gateway.internal;

import java.io.StringWriter;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A throw-away CA and wildcard leaf certificates for the proxy tests (EC P-256). */
final class ProxyTestPki {
    final KeyPair caKey;
    final X509Certificate ca;

    ProxyTestPki() throws Exception {
        caKey = ecKey();
        ca = sign("CN=proxy test CA", caKey, caKey, null, Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(30)), null, true);
    }

    /** A leaf for {@code *.domain} (chain PEM = leaf then CA, key PEM = PKCS#8). */
    Leaf leaf(String domain, Instant notAfter) throws Exception {
        KeyPair k = ecKey();
        X509Certificate c = sign("CN=*." + domain, k, caKey, ca, Instant.now().minus(Duration.ofDays(1)), notAfter,
                "*." + domain, false);
        return new Leaf(pem(c) + pem(ca), pem(k.getPrivate()), c);
    }

    Leaf leaf(String domain) throws Exception {
        return leaf(domain, Instant.now().plus(Duration.ofDays(30)));
    }

    record Leaf(String chainPem, String keyPem, X509Certificate cert) {}

    /** A client context trusting only this CA. */
    SSLContext clientContext() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), new SecureRandom());
        return ctx;
    }

    static KeyPair ecKey() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static X509Certificate sign(String subject, KeyPair subjectKey, KeyPair issuerKey, X509Certificate issuer,
            Instant from, Instant to, String dns, boolean isCa) throws Exception {
        X500Name issuerName = issuer == null ? new X500Name(subject)
                : new X500Name(issuer.getSubjectX500Principal().getName());
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
                BigInteger.valueOf(new SecureRandom().nextLong() & Long.MAX_VALUE), Date.from(from), Date.from(to),
                new X500Name(subject), subjectKey.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
        if (dns != null) {
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.dNSName, dns)));
        }
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey.getPrivate())));
    }

    static String pem(Object o) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o instanceof java.security.PrivateKey k
                    ? new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(k, null) : o);
        }
        return w.toString();
    }
}
