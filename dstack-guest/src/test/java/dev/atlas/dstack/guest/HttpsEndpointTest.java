package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An https endpoint: a fake agent behind TLS (key made by the JDK's keytool, SAN ip:127.0.0.1). */
class HttpsEndpointTest {
    @TempDir Path dir;
    KeyStore ks;
    SSLServerSocket server;
    final List<String> requests = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Path p12 = dir.resolve("agent.p12");
        Process pr = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "agent", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=agent",
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", p12.toString(),
                "-storepass", "changeit").redirectErrorStream(true).start();
        pr.getInputStream().readAllBytes();
        assertThat(pr.waitFor()).isZero();
        ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = java.nio.file.Files.newInputStream(p12)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext sctx = SSLContext.getInstance("TLS");
        sctx.init(kmf.getKeyManagers(), null, null);
        server = (SSLServerSocket) sctx.getServerSocketFactory().createServerSocket(0, 4, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try (var s = server.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    ByteArrayOutputStream acc = new ByteArrayOutputStream();
                    while (!acc.toString(StandardCharsets.UTF_8).endsWith("{}")) {
                        int b = in.read();
                        if (b < 0) {
                            break;
                        }
                        acc.write(b);
                    }
                    requests.add(acc.toString(StandardCharsets.UTF_8));
                    byte[] body = "{\"version\":\"0.5.7\",\"rev\":\"r\"}".getBytes(StandardCharsets.UTF_8);
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                } catch (Exception ignored) {
                    // a client that refused the handshake
                }
            }
        });
        t.setDaemon(true);
        t.start();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
    }

    @Test
    void trustedAgent() throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("agent", ks.getCertificate("agent"));
        tmf.init(trust);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, tmf.getTrustManagers(), null);
        String ep = "https://127.0.0.1:" + server.getLocalPort() + "/base";
        DstackClient client = DstackClient.builder().environment(Map.of()).endpoint(ep).sslContext(c).build();
        assertThat(client.version()).isEqualTo(new AgentVersion("0.5.7", "r"));
        assertThat(requests.get(0)).startsWith("POST /base/Version HTTP/1.1\r\nHost: 127.0.0.1:" + server.getLocalPort() + "\r\n");
    }

    @Test
    void untrustedAgentIsAConnectFailure() throws Exception {
        String ep = "https://127.0.0.1:" + server.getLocalPort();
        DstackClient client = DstackClient.builder().environment(Map.of()).endpoint(ep).build();
        DstackGuestException e = catchThrowableOfType(DstackGuestException.class, client::version);
        assertThat(e.reason()).isEqualTo(DstackGuestException.Reason.CONNECT_FAILED);
        assertThat(e.getMessage()).contains(ep).contains("Version");
    }
}
