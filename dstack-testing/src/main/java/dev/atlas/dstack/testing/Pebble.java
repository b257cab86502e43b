package dev.atlas.dstack.testing;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Debian's {@code /usr/bin/pebble} (a test ACME server) on free loopback ports, with a config this class writes
 * into {@code workDir}, resolving challenge names through {@code dnsServer} ({@code -dnsserver}). Debian's package
 * ships no test certificate, so this class makes a throw-away CA and a {@code 127.0.0.1}/{@code localhost} HTTPS
 * certificate for pebble ({@link #trustedRoots()}). Defaults for determinism: {@code PEBBLE_VA_NOSLEEP=1},
 * {@code PEBBLE_WFE_NONCEREJECT=0}, {@code PEBBLE_AUTHZREUSE=0} (override through {@code env}). Pebble's output
 * goes to {@code workDir/pebble.log}. Tests skip with {@code assumeTrue(Pebble.available(), Pebble.MISSING)}.
 */
public final class Pebble implements AutoCloseable {
    /** The skip message when pebble is not installed. */
    public static final String MISSING = "pebble is not installed (Debian package pebble: /usr/bin/pebble)";
    private static final Path BINARY = Path.of("/usr/bin/pebble");

    private final Process process;
    private final URI directory;
    private final URI management;
    private final X509Certificate ca;
    private final Path caPem;
    private final HttpClient http;
    private final Path log;

    private Pebble(Process process, URI directory, URI management, X509Certificate ca, Path caPem, HttpClient http,
            Path log) {
        this.process = process;
        this.directory = directory;
        this.management = management;
        this.ca = ca;
        this.caPem = caPem;
        this.http = http;
        this.log = log;
    }

    /** True when {@code /usr/bin/pebble} is installed. */
    public static boolean available() {
        return Files.isExecutable(BINARY);
    }

    /** Starts pebble and waits until its directory answers. */
    public static Pebble start(Path workDir, InetSocketAddress dnsServer) throws IOException {
        return start(workDir, dnsServer, Map.of());
    }

    /** Starts pebble with extra environment ({@code PEBBLE_WFE_NONCEREJECT}, ...). */
    public static Pebble start(Path workDir, InetSocketAddress dnsServer, Map<String, String> env)
            throws IOException {
        if (!available()) {
            throw new IOException(MISSING);
        }
        Files.createDirectories(workDir);
        Material m = material();
        Path caPem = workDir.resolve("pebble-https-ca.pem");
        Path certPem = workDir.resolve("pebble-https-cert.pem");
        Path keyPem = workDir.resolve("pebble-https-key.pem");
        Files.writeString(caPem, pem("CERTIFICATE", encoded(m.ca)));
        Files.writeString(certPem, pem("CERTIFICATE", encoded(m.leaf)) + pem("CERTIFICATE", encoded(m.ca)));
        Files.writeString(keyPem, pem("PRIVATE KEY", m.leafKey.getPrivate().getEncoded()));
        int acme = freePort();
        int mgmt = freePort();
        int httpPort = freePort();
        int tlsPort = freePort();
        Path config = workDir.resolve("pebble-config.json");
        Files.writeString(config, """
                {"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": "127.0.0.1:%d",
                  "certificate": "%s", "privateKey": "%s", "httpPort": %d, "tlsPort": %d,
                  "ocspResponderURL": "", "externalAccountBindingRequired": false}}
                """.formatted(acme, mgmt, certPem.toAbsolutePath(), keyPem.toAbsolutePath(), httpPort, tlsPort));
        Path log = workDir.resolve("pebble.log");
        String dns = dnsServer.getAddress().getHostAddress() + ":" + dnsServer.getPort();
        ProcessBuilder pb = new ProcessBuilder(BINARY.toString(), "-config", config.toAbsolutePath().toString(),
                "-dnsserver", dns, "-strict=false").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Map<String, String> e = new HashMap<>();
        e.put("PEBBLE_VA_NOSLEEP", "1");
        e.put("PEBBLE_WFE_NONCEREJECT", "0");
        e.put("PEBBLE_AUTHZREUSE", "0");
        e.putAll(env);
        pb.environment().putAll(e);
        Process p = pb.start();
        HttpClient http = client(m.ca);
        URI dir = URI.create("https://127.0.0.1:" + acme + "/dir");
        Pebble pebble = new Pebble(p, dir, URI.create("https://127.0.0.1:" + mgmt), m.ca, caPem, http, log);
        try {
            pebble.awaitUp();
        } catch (IOException | RuntimeException ex) {
            pebble.close();
            throw ex;
        }
        return pebble;
    }

    private void awaitUp() throws IOException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        long delay = 10;
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("pebble exited with status " + process.exitValue() + "; see " + log);
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(directory).timeout(Duration.ofSeconds(2))
                        .build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for pebble");
            }
            if (System.nanoTime() > end) {
                throw new IOException("pebble did not answer at " + directory + " within 15 s; see " + log);
            }
            try {
                Thread.sleep(delay); // readiness polling with backoff, not test synchronisation
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for pebble");
            }
            delay = Math.min(delay * 2, 200);
        }
    }

    /** {@code https://127.0.0.1:<port>/dir}. */
    public URI directoryUrl() {
        return directory;
    }

    /** The CA of pebble's HTTPS certificate (made by this class). */
    public List<X509Certificate> trustedRoots() {
        return List.of(ca);
    }

    /** The PEM file of {@link #trustedRoots()} (for {@code acme_ca_cert}). */
    public Path trustedRootsPem() {
        return caPem;
    }

    /** pebble's output. */
    public Path logFile() {
        return log;
    }

    /** The root that issues pebble's certificates ({@code GET /roots/0} on the management port). */
    public X509Certificate issuingRoot() throws IOException {
        try {
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(management.resolve("/roots/0"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) {
                throw new IOException("pebble /roots/0 answered HTTP " + r.statusCode());
            }
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                    new ByteArrayInputStream(r.body()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (GeneralSecurityException e) {
            throw new IOException("pebble /roots/0 is not a certificate", e);
        }
    }

    /** Stops pebble. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        http.close();
    }

    private record Material(X509Certificate ca, X509Certificate leaf, KeyPair leafKey) {
    }

    private static Material material() throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair caKey = g.generateKeyPair();
            KeyPair leafKey = g.generateKeyPair();
            Instant now = Instant.now();
            X500Name caName = new X500Name("CN=atlas test pebble HTTPS CA");
            X509v3CertificateBuilder cb = new JcaX509v3CertificateBuilder(caName, BigInteger.ONE,
                    java.util.Date.from(now.minusSeconds(3600)), java.util.Date.from(now.plus(Duration.ofDays(30))),
                    caName, caKey.getPublic());
            cb.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            cb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            X509Certificate ca = sign(cb, caKey);
            X509v3CertificateBuilder lb = new JcaX509v3CertificateBuilder(caName, BigInteger.TWO,
                    java.util.Date.from(now.minusSeconds(3600)), java.util.Date.from(now.plus(Duration.ofDays(30))),
                    new X500Name("CN=localhost"), leafKey.getPublic());
            lb.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "localhost"),
                new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
            lb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            X509Certificate leaf = sign(lb, caKey);
            return new Material(ca, leaf, leafKey);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make pebble's HTTPS certificate", e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair key)
            throws OperatorCreationException, GeneralSecurityException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
                .build(key.getPrivate())));
    }

    private static byte[] encoded(X509Certificate c) throws IOException {
        try {
            return c.getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static String pem(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + label + "-----\n";
    }

    private static HttpClient client(X509Certificate ca) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("pebble-ca", ca);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(2)).build();
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
