package dev.atlas.proxy.internal;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * The {@code wss://} server context from PEM files: a certificate chain (leaf first) and its unencrypted private
 * key as PKCS#8 ({@code BEGIN PRIVATE KEY}), SEC1 ({@code BEGIN EC PRIVATE KEY}) or PKCS#1
 * ({@code BEGIN RSA PRIVATE KEY}). Netty builds the TLS context; Bouncy Castle's PEM parser reads the key because
 * Netty's own reader accepts PKCS#8 only. Every error names the file and what is wrong.
 */
public final class PemTls {
    private PemTls() {}

    /** A TLS 1.3/1.2 server context (JDK provider, no client authentication) for the chain and key. */
    public static SslContext serverContext(Path certificateChain, Path privateKey) throws IOException {
        List<X509Certificate> chain = readChain(certificateChain);
        PrivateKey key = readKey(privateKey);
        checkKeyMatchesLeaf(key, chain.get(0));
        try {
            return SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .clientAuth(ClientAuth.NONE)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot build a TLS context: " + e.getMessage(), e);
        }
    }

    static List<X509Certificate> readChain(Path file) throws IOException {
        List<X509Certificate> chain = new ArrayList<>();
        try (InputStream in = Files.newInputStream(file)) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                chain.add((X509Certificate) c);
            }
        } catch (CertificateException e) {
            throw new IOException("cannot read certificates from " + file + ": " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IOException("no certificate in " + file);
        }
        return chain;
    }

    static PrivateKey readKey(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                // SEC1 / PKCS#1: the public part is optional in SEC1, so convert only the private part.
                return conv.getPrivateKey(kp.getPrivateKeyInfo());
            }
            if (o instanceof PrivateKeyInfo pki) {
                return conv.getPrivateKey(pki);
            }
            throw new IOException("no unencrypted private key in " + file);
        }
    }

    private static void checkKeyMatchesLeaf(PrivateKey key, X509Certificate leaf) throws IOException {
        String alg = leaf.getPublicKey().getAlgorithm();
        String sigAlg = alg.equals("EC") ? "SHA256withECDSA" : alg.equals("RSA") ? "SHA256withRSA" : null;
        if (sigAlg == null) {
            return; // other key types: the TLS handshake will tell
        }
        try {
            byte[] probe = "atlas key check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(sigAlg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            s.initVerify(leaf.getPublicKey());
            s.update(probe);
            if (!s.verify(sig)) {
                throw new IOException("the private key does not belong to the leaf certificate");
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("the private key does not belong to the leaf certificate: " + e.getMessage(), e);
        }
    }
}
