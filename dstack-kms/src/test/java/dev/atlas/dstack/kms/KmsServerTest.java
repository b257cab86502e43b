package dev.atlas.dstack.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.atlas.dstack.kms.internal.KeyStore;
import dev.atlas.dstack.kms.internal.KmsKeys;
import dev.atlas.dstack.kms.internal.SelfAgent;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore.PrivateKeyEntry;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up of §2.1 on loopback, with a simulated guest agent on a Unix socket as this KMS's own CVM
 * ({@code kms/src/main.rs}): auto-bootstrap, onboarding until {@code /finish}, restart, the TLS client-certificate
 * rule, {@code /health}, {@code /metrics}, the admin listener's authentication.
 */
class KmsServerTest {
    @TempDir
    static Path tmp;
    static GuestAgentSimulator sim;
    static Map<String, String> env;

    @BeforeAll
    static void agent() throws Exception {
        sim = GuestAgentSimulator.builder().seed(new byte[32]).internalSocket(tmp.resolve("dstack.sock")).start();
        env = Map.of(SelfAgent.AGENT_ADDRESS_ENV, "unix:" + sim.internalSocket().orElseThrow());
    }

    @AfterAll
    static void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    static KmsConfig config(Path certDir, String onboardExtra) throws RaException {
        return config(certDir, "", onboardExtra);
    }

    /** Loopback, port 0, dev auth API, no self-authorization, no OS-image check; extra keys for [core] and after. */
    static KmsConfig config(Path certDir, String coreExtra, String onboardExtra) throws RaException {
        return KmsConfig.fromToml("""
                [rpc]
                address = "127.0.0.1"
                port = 0
                [rpc.tls]
                key = "%1$s/rpc.key"
                certs = "%1$s/rpc.crt"
                [rpc.tls.mutual]
                ca_certs = "%1$s/tmp-ca.crt"
                mandatory = false
                [core]
                cert_dir = "%1$s"
                enforce_self_authorization = false
                %3$s
                [core.image]
                verify = false
                [core.auth_api]
                type = "dev"
                [core.onboard]
                address = "127.0.0.1"
                port = 0
                %2$s
                """.formatted(certDir, onboardExtra, coreExtra), certDir + "/kms.toml");
    }

    static Path newDir(String name) throws IOException {
        return Files.createDirectory(tmp.resolve(name));
    }

    @Test
    void autoBootstrapServesTlsHealthMetricsAndKeepsKeysOnRestart() throws Exception {
        Path dir = newDir("auto");
        KmsConfig c = config(dir, "auto_bootstrap_domain = \"kms.test\"");
        byte[] rootPem;
        byte[] rpcPem;
        try (KmsServer s = KmsServer.builder(c).environment(env).shutdownGrace(Duration.ZERO).start()) {
            assertThat(s.isMainServerUp()).isTrue();
            assertThat(s.onboardAddress()).isEmpty();
            assertThat(s.adminAddress()).isEmpty();
            assertThat(Files.exists(dir.resolve(KmsFiles.BOOTSTRAP_INFO))).isFalse(); // as upstream's auto path
            SSLContext trustRoot = tls(dir, null);
            assertThat(get(s, "/health", trustRoot)).isEqualTo("200 OK");
            assertThat(get(s, "/metrics", trustRoot)).startsWith("200 ").contains(
                    "dstack_kms_attestation_requests_total");
            assertThat(post(s, "/prpc/KMS.GetTempCaCert?json", "{}", trustRoot)).startsWith("200 ")
                    .contains("temp_ca_cert");
            X509Certificate rpc = KmsKeys.parseCertsPem(Files.readString(dir.resolve(KmsFiles.RPC_CERT)), "rpc").get(0);
            RaTlsCertificate ra = RaTlsCertificate.parse(rpc);
            assertThat(ra.usage()).contains("kms:rpc");
            assertThat(ra.versionedAttestation()).isPresent(); // attest_rpc_cert = true: from the agent

            // TLS layer: a client certificate must chain to tmp-ca.crt; none is fine
            SSLContext withTempCaClient = tls(dir, tempCaSignedClient(dir));
            assertThat(get(s, "/health", withTempCaClient)).isEqualTo("200 OK");
            SSLContext withForeignClient = tls(dir, selfSignedClient());
            assertThatThrownBy(() -> get(s, "/health", withForeignClient)).isInstanceOf(IOException.class);
            rootPem = Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT));
            rpcPem = Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT));
        }
        // restart: same keys and CA certificates, a new RPC certificate
        try (KmsServer s = KmsServer.builder(c).environment(env).shutdownGrace(Duration.ZERO).start()) {
            assertThat(Files.readAllBytes(dir.resolve(KmsFiles.ROOT_CA_CERT))).isEqualTo(rootPem);
            assertThat(Files.readAllBytes(dir.resolve(KmsFiles.RPC_CERT))).isNotEqualTo(rpcPem);
            assertThat(get(s, "/health", tls(dir, null))).isEqualTo("200 OK");
        }
    }

    @Test
    void onboardListenerRunsUntilFinishThenTheMainServerStarts() throws Exception {
        Path dir = newDir("onboard");
        try (KmsServer s = KmsServer.builder(config(dir, "")).environment(env).shutdownGrace(Duration.ZERO).start()) {
            InetSocketAddress ob = s.onboardAddress().orElseThrow();
            assertThat(s.isMainServerUp()).isFalse();
            assertThatThrownBy(s::rpcAddress).isInstanceOf(IllegalStateException.class);
            assertThat(plain(ob, "GET", "/health", null)).isEqualTo("200 OK");
            String boot = plain(ob, "POST", "/prpc/Onboard.Bootstrap?json", "{\"domain\":\"kms.test\"}");
            assertThat(boot).startsWith("200 ").contains("ca_pubkey", "k256_pubkey", "attestation");
            assertThat(plain(ob, "GET", "/finish", null)).isEqualTo("200 OK");
            s.awaitMainServer(Duration.ofSeconds(30));
            assertThat(s.onboardAddress()).isEmpty();
            assertThat(Files.exists(dir.resolve(KmsFiles.BOOTSTRAP_INFO))).isTrue();
            assertThat(get(s, "/health", tls(dir, null))).isEqualTo("200 OK");
        }
    }

    @Test
    void finishingWithoutKeysFailsToOnboard() throws Exception {
        Path dir = newDir("nokeys");
        try (KmsServer s = KmsServer.builder(config(dir, "")).environment(env).shutdownGrace(Duration.ZERO).start()) {
            assertThat(plain(s.onboardAddress().orElseThrow(), "GET", "/finish", null)).isEqualTo("200 OK");
            RaException e = catchThrowableOfType(RaException.class, () -> s.awaitMainServer(Duration.ofSeconds(30)));
            assertThat(e.raReason()).isEqualTo(RaException.Reason.KEY_STATE);
            assertThat(e.getMessage()).contains("Failed to onboard");
        }
    }

    @Test
    void adminListenerRefusesToStartUnauthenticatedAndChecksTheToken() throws Exception {
        Path dir = newDir("admin");
        KmsConfig c = config(dir, """
                auto_bootstrap_domain = "kms.test"
                [core.admin]
                enabled = true
                address = "127.0.0.1"
                port = 0
                """);
        RaException e = catchThrowableOfType(RaException.class,
                () -> KmsServer.builder(c).environment(env).shutdownGrace(Duration.ZERO).start());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
        assertThat(e.field()).isEqualTo("core.admin");
        assertThat(e.getMessage()).contains("DSTACK_KMS_ADMIN_TOKEN");
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty(); // refused before anything was done
        }

        Map<String, String> withToken = new java.util.HashMap<>(env);
        withToken.put("DSTACK_KMS_ADMIN_TOKEN", "t0ken");
        try (KmsServer s = KmsServer.builder(c).environment(withToken).shutdownGrace(Duration.ZERO).start()) {
            InetSocketAddress a = s.adminAddress().orElseThrow();
            String body = "{\"image_hash\":\"" + "ab".repeat(32) + "\",\"config_hash\":\"\"}";
            assertThat(plain(a, "POST", "/prpc/Admin.ClearImageCache?json", body)).startsWith("401 ");
            assertThat(plain(a, "GET", "/", null)).startsWith("401 ");
            String ok = plainWithHeader(a, "/prpc/Admin.ClearImageCache?json", body, "X-Admin-Token", "t0ken");
            assertThat(ok).doesNotStartWith("401 ");
        }
    }

    @Test
    void noKeysWithOnboardingDisabledIsAClearErrorAtStart() throws Exception {
        Path dir = newDir("disabled");
        KmsConfig c = config(dir, "", "enabled = false");
        RaException e = catchThrowableOfType(RaException.class, () -> KmsServer.builder(c).environment(env).start());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.KEY_STATE);
        assertThat(e.field()).isEqualTo("core.cert_dir");
        assertThat(e.getMessage()).contains("core.onboard.enabled = false");
    }

    @Test
    void aMissingCertDirIsAClearErrorAtStart() throws Exception {
        KmsConfig c = config(tmp.resolve("does-not-exist"), "");
        RaException e = catchThrowableOfType(RaException.class, () -> KmsServer.builder(c).environment(env).shutdownGrace(Duration.ZERO).start());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
        assertThat(e.field()).isEqualTo("core.cert_dir");
    }

    @Test
    void refusesToStartWhenTheRpcCertificateCannotBeAttested() throws Exception {
        Path dir = newDir("noagent");
        KeyStore ks = new KeyStore(dir, java.time.Clock.systemUTC());
        ks.install(ks.generateRootKeys(), "kms.test", null, false, Optional.empty());
        Map<String, String> noAgent = Map.of(SelfAgent.AGENT_ADDRESS_ENV, "unix:" + tmp.resolve("nobody.sock"));
        RaException e = catchThrowableOfType(RaException.class,
                () -> KmsServer.builder(config(dir, "")).environment(noAgent).start());
        assertThat(e.raReason()).isEqualTo(RaException.Reason.AGENT_UNAVAILABLE);
        assertThat(e.getMessage()).contains("refusing to start");
        // with attest_rpc_cert = false it starts, with an unattested certificate
        KmsConfig unattested = config(dir, "attest_rpc_cert = false", "");
        try (KmsServer s = KmsServer.builder(unattested).environment(noAgent).shutdownGrace(Duration.ZERO).start()) {
            assertThat(get(s, "/health", tls(dir, null))).isEqualTo("200 OK");
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /** Trusts root-ca.crt of {@code dir}; presents {@code client} when given. */
    static SSLContext tls(Path dir, PrivateKeyEntry client) throws Exception {
        java.security.KeyStore ts = java.security.KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("root", KmsKeys.parseCertsPem(Files.readString(dir.resolve(KmsFiles.ROOT_CA_CERT)),
                "root").get(0));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        KeyManagerFactory kmf = null;
        if (client != null) {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("c", client.getPrivateKey(), "pw".toCharArray(), client.getCertificateChain());
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "pw".toCharArray());
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : new javax.net.ssl.KeyManager[] {
            alwaysPresent((javax.net.ssl.X509KeyManager) kmf.getKeyManagers()[0])}, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** Presents the one client certificate whatever issuers the server names (so the server's own check runs). */
    static javax.net.ssl.X509ExtendedKeyManager alwaysPresent(javax.net.ssl.X509KeyManager km) {
        return new javax.net.ssl.X509ExtendedKeyManager() {
            @Override
            public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
                return new String[] {"c"};
            }

            @Override
            public String chooseClientAlias(String[] keyType, java.security.Principal[] issuers,
                    java.net.Socket socket) {
                return "c";
            }

            @Override
            public String chooseEngineClientAlias(String[] keyType, java.security.Principal[] issuers,
                    javax.net.ssl.SSLEngine engine) {
                return "c";
            }

            @Override
            public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
                return null;
            }

            @Override
            public String chooseServerAlias(String keyType, java.security.Principal[] issuers, java.net.Socket s) {
                return null;
            }

            @Override
            public X509Certificate[] getCertificateChain(String alias) {
                return km.getCertificateChain(alias);
            }

            @Override
            public java.security.PrivateKey getPrivateKey(String alias) {
                return km.getPrivateKey(alias);
            }
        };
    }

    static PrivateKeyEntry tempCaSignedClient(Path dir) throws Exception {
        P256PrivateKey caKey = P256PrivateKey.fromPem(Files.readString(dir.resolve(KmsFiles.TEMP_CA_KEY)));
        X509Certificate ca = KmsKeys.parseCertsPem(Files.readString(dir.resolve(KmsFiles.TEMP_CA_CERT)), "ca").get(0);
        P256PrivateKey k = KmsKeys.newP256(new java.security.SecureRandom());
        X509Certificate c = RaTlsCertificate.builder().subject("RA-TLS TEMP Cert").publicKey(k.toPublicKey())
                .signedBy(ca, caKey.toPrivateKey());
        return new PrivateKeyEntry(k.toPrivateKey(), new Certificate[] {c, ca});
    }

    static PrivateKeyEntry selfSignedClient() throws Exception {
        P256PrivateKey k = KmsKeys.newP256(new java.security.SecureRandom());
        X509Certificate c = RaTlsCertificate.builder().subject("RA-TLS TEMP Cert").caLevel(0)
                .selfSigned(k.toKeyPair());
        return new PrivateKeyEntry(k.toPrivateKey(), new Certificate[] {c});
    }

    static String get(KmsServer s, String path, SSLContext ctx) throws IOException {
        return https(s, "GET", path, null, ctx);
    }

    static String post(KmsServer s, String path, String body, SSLContext ctx) throws IOException {
        return https(s, "POST", path, body, ctx);
    }

    static String https(KmsServer s, String method, String path, String body, SSLContext ctx) throws IOException {
        HttpsURLConnection c = (HttpsURLConnection) URI.create("https://127.0.0.1:" + s.rpcAddress().getPort() + path)
                .toURL().openConnection();
        c.setSSLSocketFactory(ctx.getSocketFactory());
        c.setHostnameVerifier((h, sess) -> true); // the certificate names kms.test; we dial 127.0.0.1
        return exchange(c, method, body, Map.of());
    }

    static String plain(InetSocketAddress a, String method, String path, String body) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + a.getPort() + path).toURL()
                .openConnection();
        return exchange(c, method, body, Map.of());
    }

    static String plainWithHeader(InetSocketAddress a, String path, String body, String h, String v)
            throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + a.getPort() + path).toURL()
                .openConnection();
        return exchange(c, "POST", body, Map.of(h, v));
    }

    static String exchange(HttpURLConnection c, String method, String body, Map<String, String> headers)
            throws IOException {
        c.setConnectTimeout(10_000);
        c.setReadTimeout(30_000);
        c.setRequestMethod(method);
        headers.forEach(c::setRequestProperty);
        if (body != null) {
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            try (OutputStream os = c.getOutputStream()) {
                os.write(body.getBytes(StandardCharsets.UTF_8));
            }
        }
        int status = c.getResponseCode();
        InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
        String text = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        c.disconnect();
        return status + " " + text;
    }
}
