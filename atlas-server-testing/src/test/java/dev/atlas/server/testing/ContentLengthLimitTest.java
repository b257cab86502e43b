package dev.atlas.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.ServerCertificate;
import dev.atlas.testing.SimulatedCvm;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Reverse-proxy mode: a request whose {@code Content-Length} is over the body limit, or is not one valid
 * non-negative decimal integer, is answered 413/400 before anything reaches the upstream application. (A value of
 * 19 or more digits used to skip the early 413: the upstream then received {@code Content-Length:
 * 9223372036854775807} and the body up to the limit, and the client a 502.)
 */
class ContentLengthLimitTest {
    static AtlsServer server;
    static HttpServer upstream;
    static final AtomicInteger upstreamRequests = new AtomicInteger();

    @BeforeAll
    static void start() throws Exception {
        AtlsServer.Builder b = AtlsServer.builder(); // the aTLS server's JDK limits before any other HttpServer
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", ex -> {
            upstreamRequests.incrementAndGet();
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        upstream.start();
        server = b.certificate(ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(1), "localhost", "127.0.0.1"))
                .quoteProvider(SimulatedQuoteProvider.of(SimulatedCvm.builder().seed(11).build()))
                .upstream(URI.create("http://127.0.0.1:" + upstream.getAddress().getPort()))
                .maxRequestBodyBytes(1024)
                .build().start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (upstream != null) {
            upstream.stop(0);
        }
    }

    /** Sends the head and up to 4 KiB of body, and returns the status; the client never sends the rest. */
    static int status(String contentLengthLines) throws Exception {
        try (JsseClient c = JsseClient.connect(server.address(), server.certificate().leaf())) {
            c.socket.setSoTimeout(5_000); // a forwarded request would wait for the rest of the body: fail, not hang
            String head = "POST /upload HTTP/1.1\r\nHost: localhost\r\n" + contentLengthLines + "\r\n";
            c.out.write(head.getBytes(StandardCharsets.UTF_8));
            c.out.write("x".repeat(4096).getBytes(StandardCharsets.US_ASCII));
            c.out.flush();
            try {
                return c.read().status();
            } catch (IOException e) {
                throw new AssertionError("no answer to " + contentLengthLines.strip() + ": " + e, e);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "long max|Content-Length: 9223372036854775807\\r\\n|413",
        "19 digits with leading zeros|Content-Length: 0000000000000002000\\r\\n|413",
        "23 digits with leading zeros|Content-Length: 00000000000000000002000\\r\\n|413",
        "20 digits|Content-Length: 10000000000000000000\\r\\n|400",
        "just over the limit|Content-Length: 1025\\r\\n|413",
        "plus sign|Content-Length: +2000\\r\\n|400",
        "plus sign under the limit|Content-Length: +10\\r\\n|400",
        "minus sign|Content-Length: -1\\r\\n|400",
        "inner space|Content-Length: 20 00\\r\\n|400",
        "list|Content-Length: 10, 10\\r\\n|400",
        "two differing lines|Content-Length: 10\\r\\nContent-Length: 2000\\r\\n|400",
        "arabic-indic digits|Content-Length: \u0661\u0660\\r\\n|400",
        "fullwidth digits|Content-Length: \uff11\uff10\\r\\n|400",
        "empty|Content-Length: \\r\\n|400",
    })
    void refusedBeforeTheUpstreamSeesAnything(String name, String lines, int expected) throws Exception {
        int before = upstreamRequests.get();
        int status = status(lines.replace("\\r\\n", "\r\n"));
        if (expected == 400) {
            // The JDK server itself refuses some malformed values with 400 before the handler; a 413 would be
            // acceptable for none of them, since they are not numbers.
            assertThat(status).as(name).isEqualTo(400);
        } else {
            assertThat(status).as(name).isEqualTo(413);
        }
        assertThat(upstreamRequests.get()).as("requests that reached the upstream for " + name).isEqualTo(before);
    }
}
