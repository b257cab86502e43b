package dev.atlas.dstack.ra.prpc;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.Time;
import org.bouncycastle.asn1.x509.V3TBSCertificateGenerator;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/** Self-signed P-256 certificates for the loopback HTTPS tests, built with bcprov's ASN.1 classes only. */
final class TestCerts {
    private TestCerts() {}

    record Identity(KeyPair key, X509Certificate cert) {}

    static Identity selfSigned(String cn, boolean withLoopbackSan) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        AlgorithmIdentifier alg = new AlgorithmIdentifier(X9ObjectIdentifiers.ecdsa_with_SHA256);
        V3TBSCertificateGenerator tbs = new V3TBSCertificateGenerator();
        tbs.setSerialNumber(new ASN1Integer(BigInteger.valueOf(System.nanoTime() & 0x7fffffffL)));
        X500Name name = new X500Name("CN=" + cn);
        tbs.setIssuer(name);
        tbs.setSubject(name);
        long now = System.currentTimeMillis();
        tbs.setStartDate(new Time(new Date(now - 3_600_000L)));
        tbs.setEndDate(new Time(new Date(now + 86_400_000L)));
        tbs.setSignature(alg);
        tbs.setSubjectPublicKeyInfo(SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded()));
        if (withLoopbackSan) {
            GeneralNames san = new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")});
            tbs.setExtensions(new Extensions(new Extension(Extension.subjectAlternativeName, false,
                    new DEROctetString(san))));
        }
        byte[] tbsDer = tbs.generateTBSCertificate().getEncoded("DER");
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(kp.getPrivate());
        s.update(tbsDer);
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(tbs.generateTBSCertificate());
        v.add(alg);
        v.add(new DERBitString(s.sign()));
        byte[] der = new DERSequence(v).getEncoded("DER");
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der));
        return new Identity(kp, cert);
    }

    /** A TLS context presenting {@code own} and trusting only {@code trusted}. */
    static SSLContext context(Identity own, X509Certificate trusted) throws Exception {
        char[] pw = "changeit".toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        if (own != null) {
            ks.setKeyEntry("k", own.key().getPrivate(), pw, new X509Certificate[] {own.cert()});
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("t", trusted);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }
}
