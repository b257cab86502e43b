package dev.atlas.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class AtlsProtocolTest {
    @Test
    void requestIsTheReferenceBytes() {
        byte[] nonce = new byte[32];
        nonce[0] = (byte) 0xab;
        String body = new String(AtlsProtocol.requestBody(nonce), StandardCharsets.US_ASCII);
        assertThat(body).isEqualTo("{\"nonce_hex\":\"ab" + "00".repeat(31) + "\"}");
        assertThat(body).hasSize(AtlsProtocol.REQUEST_BODY_LENGTH);
        String req = new String(AtlsProtocol.quoteRequest("::1", nonce), StandardCharsets.US_ASCII);
        assertThat(req).startsWith("POST /tdx_quote HTTP/1.1\r\nHost: [::1]\r\n")
                .contains("Content-Length: 80\r\n").endsWith("\r\n\r\n" + body);
        assertThat(AtlsProtocol.parseNonceHex(body.substring(14, 78).toUpperCase())).isEqualTo(nonce);
        assertThatThrownBy(() -> AtlsProtocol.parseNonceHex("ab")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AtlsProtocol.requestBody(new byte[31])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void closedModeRefusesInterimAndKeepsItsMessages() {
        assertThatThrownBy(() -> Http1ResponseReader.parseClosed(
                "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 100))
                .hasMessageContaining("unexpected status");
        assertThatThrownBy(() -> Http1ResponseReader.parseClosed(
                "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}".getBytes(StandardCharsets.US_ASCII), 100))
                .hasMessageContaining("shorter than Content-Length");
        assertThatThrownBy(() -> Http1ResponseReader.parseClosed(
                "HTTP/1.1 200 OK\r\nContent-Length: 0000000000001\r\n\r\n{}".getBytes(StandardCharsets.US_ASCII), 100))
                .hasMessageContaining("malformed Content-Length");
        assertThat(Http1ResponseReader.parseClosed(
                "HTTP/1.1 200 OK\r\n\r\nrest".getBytes(StandardCharsets.US_ASCII), 100).bodyText()).isEqualTo("rest");
    }

    @Test
    void checks() {
        assertThat(Checks.socketTimeout(Duration.ofSeconds(1))).isEqualTo(Duration.ofSeconds(1));
        assertThatThrownBy(() -> Checks.socketTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Checks.socketTimeout(Duration.ofDays(30))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Checks.positive(Duration.ofSeconds(-1), "timeout")).hasMessage("timeout must be positive");
        assertThatThrownBy(() -> Checks.atLeast(10, 1024, "maxResponseBytes"))
                .hasMessage("maxResponseBytes must be at least 1024");
        assertThatThrownBy(() -> Checks.nonNegative(-1, "n")).hasMessage("n must be >= 0");
    }
}
