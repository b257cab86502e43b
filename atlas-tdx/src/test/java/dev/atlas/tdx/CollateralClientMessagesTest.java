package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.tdx.AttestationException.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A failed collateral fetch says what went wrong and where, in words (no bare JDK exception class name). */
class CollateralClientMessagesTest {
    static AttestationException fetchFrom(String base) {
        return fetchFrom(base, Duration.ofSeconds(2));
    }

    static AttestationException fetchFrom(String base, Duration connectTimeout) {
        CollateralClient c = CollateralClient.builder().baseUrl(base).requestTimeout(Duration.ofSeconds(2))
                .connectTimeout(connectTimeout).build();
        AttestationException e = assertThrows(AttestationException.class,
                () -> c.fetch("00806F050000", "processor", TeeType.TDX));
        assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_FETCH_FAILED);
        assertThat(e.getMessage()).doesNotContain("java.net.").doesNotContain("javax.net.");
        return e;
    }

    @Test
    void aRefusedConnectionSaysConnectionRefusedAndNamesTheAddress() throws Exception {
        int port;
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = ss.getLocalPort();
        }
        AttestationException e = fetchFrom("http://127.0.0.1:" + port);
        assertThat(e.getMessage()).contains("connection refused").contains("127.0.0.1:" + port)
                .contains("http://127.0.0.1:" + port + "/sgx/certification/v4/pckcrl");
    }

    @Test
    void anHttpsUrlToAPortAnsweringPlainHttpSaysTheServerDidNotAnswerTls() throws Exception {
        // As nginx or most HTTP servers do: the ClientHello is a bad request, answered in plain HTTP.
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                while (!ss.isClosed()) {
                    try (Socket s = ss.accept()) {
                        s.getInputStream().readNBytes(5);
                        s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        s.getOutputStream().flush();
                        Thread.sleep(200);
                    } catch (Exception ignored) {
                        // next
                    }
                }
            });
            AttestationException e = fetchFrom("https://127.0.0.1:" + ss.getLocalPort(), Duration.ofSeconds(10));
            assertThat(e.getMessage()).contains("the server at 127.0.0.1:" + ss.getLocalPort() + " did not answer TLS")
                    .contains("plain-HTTP port");
        }
    }

    @Test
    void anHttpsUrlToASilentPlainHttpPortSaysNothingCameWithinTheConnectTimeout() throws Exception {
        // The JDK's HTTP server waits for a request line and never answers a ClientHello.
        HttpServer plain = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        plain.createContext("/", ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        plain.start();
        try {
            int port = plain.getAddress().getPort();
            AttestationException e = fetchFrom("https://127.0.0.1:" + port, Duration.ofSeconds(1));
            assertThat(e.getMessage()).contains("the server at 127.0.0.1:" + port
                    + " did not complete the connection and TLS handshake within 1 s");
        } finally {
            plain.stop(0);
        }
    }
}
