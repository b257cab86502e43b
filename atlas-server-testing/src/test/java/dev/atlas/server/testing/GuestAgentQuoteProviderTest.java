package dev.atlas.server.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.EventLogEntry;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.dstack.ReportData;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.GuestAgentQuoteProvider;
import dev.atlas.server.ServerCertificate;
import dev.atlas.tdx.Quote;
import dev.atlas.testing.SimulatedCvm;
import dev.atlas.testing.SimulatedGuestAgent;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The guest-agent provider against a simulated agent on a Unix socket in a temp directory. */
class GuestAgentQuoteProviderTest {
    static final HexFormat HEX = HexFormat.of();
    @TempDir
    Path dir;

    @Test
    void getQuoteInfoAndEmitEventOverAUnixSocket() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("dstack.sock")).start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(agent.endpoint()).build();
            p.emitEvent("New TLS Certificate", "ab".repeat(32).getBytes(StandardCharsets.US_ASCII));
            byte[] rd = new byte[64];
            Arrays.fill(rd, (byte) 0x42);
            GetQuoteResponse r = p.getQuote(rd);
            assertThat(Quote.parse(r.quote()).tdReport().reportDataBytes()).isEqualTo(rd);
            assertThat(r.reportData()).isEqualTo(rd);
            EventLog log = EventLog.parse(r.eventLog());
            assertThat(log.replay().get(3)).isEqualTo(Quote.parse(r.quote()).tdReport().rtmrBytes(3));
            assertThat(log.verify().tlsCertificate().orElseThrow().payloadText()).contains("ab".repeat(32));
            JsonNode ti = new ObjectMapper().readTree(p.tcbInfo());
            assertThat(ti.get("mrtd").textValue()).isEqualTo(cvm.mrTd());
            assertThat(agent.callCount("EmitEvent")).isEqualTo(1);
            assertThat(p.description()).contains("dstack.sock");
        }
    }

    @Test
    void shortReportDataIsPaddedAndTooLongIsRefused() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("a.sock")).start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint("unix:" + agent.endpoint()).build();
            GetQuoteResponse r = p.getQuote(new byte[] {1, 2});
            byte[] expected = new byte[64];
            expected[0] = 1;
            expected[1] = 2;
            assertThat(Quote.parse(r.quote()).tdReport().reportDataBytes()).isEqualTo(expected);
            assertThrows(IllegalArgumentException.class, () -> p.getQuote(new byte[65]));
        }
    }

    @Test
    void tcpEndpointAsDstackSimulatorEndpoint() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).start()) {
            String endpoint = GuestAgentQuoteProvider.endpointFromEnvironment(
                    Map.of(GuestAgentQuoteProvider.SIMULATOR_ENDPOINT_ENV, agent.endpoint()));
            assertThat(endpoint).startsWith("http://127.0.0.1:");
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(endpoint).build();
            assertThat(p.getQuote(new byte[64]).quote()).isNotEmpty();
        }
        assertThat(GuestAgentQuoteProvider.endpointFromEnvironment(Map.of())).isEqualTo("/var/run/dstack.sock");
    }

    @Test
    void withoutEmitEventTheProviderExtendsRtmr3NativelyAndAppendsTheEvent() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        Path rtmr3 = Files.createFile(dir.resolve("rtmr3:sha384"));
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("b.sock"))
                .withoutEmitEvent().start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(agent.endpoint())
                    .nativeRtmr3(rtmr3).build();
            byte[] payload = "cd".repeat(32).getBytes(StandardCharsets.US_ASCII);
            p.emitEvent("New TLS Certificate", payload);
            assertThat(Files.readAllBytes(rtmr3)).isEqualTo(EventLogEntry.runtimeDigest("New TLS Certificate", payload));
            EventLog log = EventLog.parse(p.getQuote(new byte[64]).eventLog());
            EventLogEntry last = log.entries().get(log.entries().size() - 1);
            assertThat(last.event()).isEqualTo("New TLS Certificate");
            assertThat(last.imr()).isEqualTo(3);
            assertThat(last.digestAgrees()).isTrue();
            assertThat(p.description()).contains("natively");
        }
        // Without the native file, AUTO fails and says why.
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("c.sock"))
                .withoutEmitEvent().start()) {
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(agent.endpoint())
                    .nativeRtmr3(dir.resolve("absent")).build();
            IOException e = assertThrows(IOException.class, () -> p.emitEvent("x", new byte[0]));
            assertThat(e.getMessage()).contains("404").contains("removed").contains("absent");
        }
    }

    @Test
    void strippedRuntimeDigestsAreBackFilledByTheServer() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).stripRuntimeDigests().build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("d.sock")).start();
             AtlsServer s = AtlsServer.builder()
                     .certificate(ServerCertificate.selfSigned(java.time.Clock.systemUTC(), Duration.ofDays(1), "localhost"))
                     .quoteProvider(GuestAgentQuoteProvider.builder().endpoint(agent.endpoint()).build())
                     .build().start();
             JsseClient c = JsseClient.connect(s.address(), s.certificate().leaf())) {
            byte[] nonce = new byte[32];
            JsseClient.Response r = c.exchange(JsseClient.quoteRequest("localhost",
                    "{\"nonce_hex\":\"" + HEX.formatHex(nonce) + "\"}"));
            assertThat(r.status()).isEqualTo(200);
            String log = new ObjectMapper().readTree(r.body()).get("quote").get("event_log").textValue();
            assertThat(log).startsWith("[{\"imr\": 0, \"event_type\": ").doesNotContain("\"digest\": \"\"");
            QuoteResponse qr = QuoteResponse.parse(r.text());
            for (EventLogEntry e : qr.eventLog().entries()) {
                assertThat(e.digestHex()).hasSize(96);
            }
            assertThat(Quote.parse(qr.quote()).tdReport().reportDataBytes()).isEqualTo(ReportData.sessionBinding(nonce, c.ekm));
        }
    }

    @Test
    void malformedAgentAnswersAndTimeoutsAreIoErrors() throws Exception {
        assertThat(fakeAgent("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"))
                .contains("status 500").contains("oops");
        assertThat(fakeAgent("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")).contains("JSON object");
        assertThat(fakeAgent("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"quote\":1}")).contains("not a string");
        assertThat(fakeAgent("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}")).contains("shorter than Content-Length");
        assertThat(fakeAgent("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
                .contains("missing quote");
        assertThat(fakeAgent(null)).contains("did not answer GetQuote within");
    }

    /** Runs one GetQuote against a fake agent that answers {@code raw} (or nothing) and closes. */
    private String fakeAgent(String raw) throws Exception {
        Path sock = dir.resolve("fake-" + System.nanoTime() + ".sock");
        try (ServerSocketChannel ss = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ss.bind(UnixDomainSocketAddress.of(sock));
            Thread t = Thread.ofVirtual().start(() -> {
                try (SocketChannel c = ss.accept()) {
                    c.read(ByteBuffer.allocate(4096));
                    if (raw == null) {
                        Thread.sleep(3000);
                        return;
                    }
                    c.write(ByteBuffer.wrap(raw.getBytes(StandardCharsets.US_ASCII)));
                } catch (IOException | InterruptedException ignored) {
                    // test ends
                }
            });
            GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(sock.toString())
                    .timeout(Duration.ofMillis(500)).build();
            IOException e = assertThrows(IOException.class, () -> p.getQuote(new byte[64]));
            t.interrupt();
            return e.getMessage();
        }
    }
}
