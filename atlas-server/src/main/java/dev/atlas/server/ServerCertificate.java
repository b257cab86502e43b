package dev.atlas.server;

import java.io.IOException;
import java.io.StringReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The server's TLS key and certificate chain (leaf first). Its leaf's SHA-256 is what the server measures
 * into RTMR3 as {@code New TLS Certificate} and what clients compare. The private key is never printed.
 */
public final class ServerCertificate {
    private static final HexFormat HEX = HexFormat.of();
    private final PrivateKey key;
    private final List<X509Certificate> chain;

    private ServerCertificate(PrivateKey key, List<X509Certificate> chain) {
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("empty certificate chain");
        }
        this.key = Objects.requireNonNull(key);
        this.chain = List.copyOf(chain);
    }

    /** A key and chain already in memory. */
    public static ServerCertificate of(PrivateKey key, List<X509Certificate> chain) {
        return new ServerCertificate(key, chain);
    }

    /**
     * Reads a PEM certificate chain (leaf first, as nginx's {@code fullchain.pem}) and a PEM private key
     * (PKCS#8 {@code PRIVATE KEY}, or SEC1 {@code EC PRIVATE KEY} / PKCS#1 {@code RSA PRIVATE KEY}).
     *
     * @throws IOException when a file cannot be read, or holds no certificate / no key, or the key does not
     *                     match the leaf
     */
    public static ServerCertificate fromPem(Path certificateChain, Path privateKey) throws IOException {
        List<X509Certificate> chain = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            try (var in = Files.newInputStream(certificateChain)) {
                for (var c : cf.generateCertificates(in)) {
                    chain.add((X509Certificate) c);
                }
            }
        } catch (CertificateException e) {
            throw new IOException("cannot read certificates from " + certificateChain + ": " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IOException("no certificate in " + certificateChain);
        }
        PrivateKey key = parseKey(Files.readString(privateKey, StandardCharsets.US_ASCII), privateKey);
        ServerCertificate sc = new ServerCertificate(key, chain);
        sc.checkKeyMatchesLeaf();
        return sc;
    }

    /**
     * A fresh self-signed P-256 certificate for {@code names} (DNS names or IP literals; the first is the
     * subject CN), valid from one hour before now for {@code validity}. Clients accept it only in their
     * "trust the attested certificate" mode, where the attestation binds its hash.
     */
    public static ServerCertificate selfSigned(Clock clock, Duration validity, String... names) {
        if (names.length == 0) {
            throw new IllegalArgumentException("at least one name");
        }
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            KeyPair kp = g.generateKeyPair();
            Instant now = clock.instant();
            byte[] serial = new byte[16];
            new SecureRandom().nextBytes(serial);
            serial[0] &= 0x7f;
            X500Name subject = new X500Name("CN=" + names[0].replaceAll("[,=+<>#;\"\\\\]", "_"));
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, new BigInteger(1, serial),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(validity)), subject, kp.getPublic());
            List<GeneralName> sans = new ArrayList<>();
            for (String n : names) {
                sans.add(isIpLiteral(n) ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n));
            }
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
            return new ServerCertificate(kp.getPrivate(), List.of(cert));
        } catch (GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException
                 | org.bouncycastle.cert.CertIOException e) {
            throw new IllegalStateException("cannot create a self-signed certificate", e);
        }
    }

    private static boolean isIpLiteral(String n) {
        return n.matches("[0-9.]+") || n.contains(":");
    }

    /** The private key (for building an SSLContext). */
    PrivateKey privateKey() {
        return key;
    }

    /** A TLS 1.3 {@link javax.net.ssl.SSLContext} that presents this certificate (no client authentication). */
    public javax.net.ssl.SSLContext serverSslContext() {
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pw = new char[0];
            ks.setKeyEntry("server", key, pw, chain.toArray(new java.security.cert.Certificate[0]));
            javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(
                    javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build the TLS context", e);
        }
    }

    /** The chain, leaf first. */
    public List<X509Certificate> chain() {
        return chain;
    }

    /** The leaf certificate. */
    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** Lowercase hex SHA-256 of the leaf's DER: the {@code New TLS Certificate} payload text. */
    public String leafSha256Hex() {
        try {
            return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(leaf().getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The chain as PEM. */
    public String chainPem() {
        StringBuilder sb = new StringBuilder();
        Base64.Encoder enc = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        for (X509Certificate c : chain) {
            try {
                sb.append("-----BEGIN CERTIFICATE-----\n").append(enc.encodeToString(c.getEncoded()))
                        .append("\n-----END CERTIFICATE-----\n");
            } catch (CertificateEncodingException e) {
                throw new IllegalStateException(e);
            }
        }
        return sb.toString();
    }

    private void checkKeyMatchesLeaf() throws IOException {
        try {
            String alg = leaf().getPublicKey().getAlgorithm();
            String sigAlg = alg.equals("EC") ? "SHA256withECDSA" : alg.equals("RSA") ? "SHA256withRSA" : null;
            if (sigAlg == null) {
                return; // other key types: the TLS handshake will tell
            }
            byte[] probe = "atlas key check".getBytes(StandardCharsets.US_ASCII);
            java.security.Signature s = java.security.Signature.getInstance(sigAlg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            s.initVerify(leaf().getPublicKey());
            s.update(probe);
            if (!s.verify(sig)) {
                throw new IOException("the private key does not belong to the leaf certificate");
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("the private key does not belong to the leaf certificate: " + e.getMessage(), e);
        }
    }

    private static PrivateKey parseKey(String pem, Path from) throws IOException {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            var conv = new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter();
            if (o instanceof org.bouncycastle.openssl.PEMKeyPair kp) {
                // SEC1 / PKCS#1: the public part is optional in SEC1, so convert only the private part.
                return conv.getPrivateKey(kp.getPrivateKeyInfo());
            }
            if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo pki) {
                return conv.getPrivateKey(pki);
            }
            throw new IOException("no unencrypted private key in " + from);
        }
    }

    @Override
    public String toString() {
        return "ServerCertificate[" + leaf().getSubjectX500Principal().getName() + ", sha256 " + leafSha256Hex() + "]";
    }
}
