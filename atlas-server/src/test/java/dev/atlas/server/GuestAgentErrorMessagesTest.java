package dev.atlas.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Transport failures of the guest-agent provider name the endpoint and say what went wrong in plain words. */
class GuestAgentErrorMessagesTest {
    @TempDir
    Path dir;

    private static void assertNoJdkClassName(Throwable t) {
        assertThat(t.getMessage()).doesNotContainPattern("\\bjava\\.|\\b[A-Z]\\w*Exception\\b").isNotEqualTo("null");
    }

    @Test
    void closedHttpPortIsConnectionRefusedWithTheUrl() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint("http://127.0.0.1:" + port).build();
        assertThatThrownBy(() -> p.emitEvent("x", "y".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("guest agent at http://127.0.0.1:" + port + "/")
                .hasMessageContaining("EmitEvent failed: connection refused")
                .satisfies(GuestAgentErrorMessagesTest::assertNoJdkClassName);
        assertThatThrownBy(() -> p.getQuote(new byte[64])).hasMessageContaining("GetQuote failed: connection refused");
    }

    @Test
    void missingSocketSaysItDoesNotExistWithThePath() {
        Path sock = dir.resolve("dstack.sock");
        GuestAgentQuoteProvider p = GuestAgentQuoteProvider.builder().endpoint(sock.toString()).build();
        assertThatThrownBy(() -> p.getQuote(new byte[64]))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("guest agent at unix:" + sock)
                .hasMessageContaining("the socket does not exist")
                .satisfies(GuestAgentErrorMessagesTest::assertNoJdkClassName);
    }

    @Test
    void failureTextKeepsTheTransportsOwnMessages() {
        IOException deadline = new IOException("guest agent at unix:/x did not answer GetQuote within 10 ms");
        assertThat(GuestAgentQuoteProvider.failure("unix:/x", "GetQuote", deadline)).isEqualTo(deadline.getMessage());
        assertThat(GuestAgentQuoteProvider.failure("http://a/", "Info", new IOException()))
                .isEqualTo("guest agent at http://a/: Info failed: I/O error without detail");
        java.net.ConnectException unresolved = new java.net.ConnectException();
        unresolved.initCause(new java.nio.channels.UnresolvedAddressException());
        assertThat(GuestAgentQuoteProvider.failure("http://a/", "Info", unresolved))
                .contains("host name cannot be resolved");
    }
}
