package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/** The {@code GetTlsKey} answer as a working TLS server identity (key and certificate from dstack's appkeys.json). */
class TlsKeyTest {
    @Test
    void sslContextServesAHandshake() throws Exception {
        TlsKey k = ResponseParsers.tlsKey(new ResponseParsers.Ctx("unix:/t", "GetTlsKey"),
                TlsFixture.responseJson().getBytes(StandardCharsets.UTF_8));
        assertThat(k.certificates().get(0).getSubjectX500Principal().getName()).contains("Dstack KMS CA");
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", k.certificates().get(0));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        var clientCtx = javax.net.ssl.SSLContext.getInstance("TLS");
        clientCtx.init(null, tmf.getTrustManagers(), null);
        try (SSLServerSocket server = (SSLServerSocket) k.sslContext(null).getServerSocketFactory()
                .createServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (var s = server.accept(); OutputStream o = s.getOutputStream()) {
                    o.write('k');
                } catch (Exception ignored) {
                    // the client reports
                }
            });
            t.start();
            try (SSLSocket c = (SSLSocket) clientCtx.getSocketFactory().createSocket(
                    java.net.InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                c.setSoTimeout(5000);
                InputStream in = c.getInputStream();
                assertThat(in.read()).isEqualTo('k');
            }
            t.join(5000);
        }
    }
}
