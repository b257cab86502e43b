package dev.atlas.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** A mock PCCS that cannot start says where and why. */
class MockPccsStartTest {
    @Test
    void portInUseNamesTheAddressAndTheReason() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> MockPccs.start(() -> "{}", port))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessage("cannot start the mock PCCS on 127.0.0.1:" + port + ": the address is already in use");
        }
    }

    @Test
    void portOutOfRangeIsRefused() {
        assertThatThrownBy(() -> MockPccs.start(() -> "{}", 70000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("70000");
    }
}
