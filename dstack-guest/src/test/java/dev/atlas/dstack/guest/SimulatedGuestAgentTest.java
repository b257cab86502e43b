package dev.atlas.dstack.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.atlas.testing.SimulatedCvm;
import dev.atlas.testing.SimulatedGuestAgent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link DstackClient} against atlas-testing's {@link SimulatedGuestAgent} (it serves GetQuote and Info). */
class SimulatedGuestAgentTest {
    @TempDir Path dir;

    @Test
    void quoteAndInfoOverUnixSocket() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(3).build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).unixSocket(dir.resolve("dstack.sock")).start()) {
            DstackClient c = DstackClient.builder().environment(Map.of("DSTACK_SIMULATOR_ENDPOINT", agent.endpoint()))
                    .build();
            assertThat(c.endpoint().socket()).isEqualTo(dir.resolve("dstack.sock"));
            byte[] rd = "atlas".getBytes(StandardCharsets.UTF_8);
            Quote q = c.getQuote(rd);
            assertThat(Arrays.copyOf(q.reportData(), rd.length)).isEqualTo(rd);
            assertThat(q.quote().length).isGreaterThan(600);
            AppInfo i = c.info();
            assertThat(i.appId()).isNotEmpty();
            assertThat(i.tcbInfo()).contains("mrtd");
            assertThat(c.isReachable()).isTrue();
            assertThat(agent.callCount("GetQuote")).isEqualTo(1);
        }
    }

    @Test
    void overTcpAndUnknownMethods() throws Exception {
        SimulatedCvm cvm = SimulatedCvm.builder().seed(4).build();
        try (SimulatedGuestAgent agent = SimulatedGuestAgent.builder(cvm).start()) {
            DstackClient c = DstackClient.builder().environment(Map.of()).endpoint(agent.endpoint()).build();
            assertThat(c.getQuote(new byte[64]).quote()).isNotEmpty();
            DstackGuestException e = catchThrowableOfType(DstackGuestException.class, () -> c.getKey("p", "q"));
            assertThat(e.reason()).isIn(DstackGuestException.Reason.UNEXPECTED_STATUS,
                    DstackGuestException.Reason.AGENT_ERROR);
        }
    }
}
