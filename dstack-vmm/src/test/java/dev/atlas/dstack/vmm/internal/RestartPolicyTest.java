package dev.atlas.dstack.vmm.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.atlas.dstack.vmm.VmmConfig;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Known answers of upstream's {@code auto_restart_policy_*} tests ({@code vmm/src/app.rs}): backoff 2 s, cap 5 s. */
class RestartPolicyTest {
    static final VmmConfig.AutoRestart CONFIG = new VmmConfig.AutoRestart(true, Duration.ofSeconds(1), 3,
            Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10));
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    static Instant at(long s) {
        return T0.plusSeconds(s);
    }

    @Test
    void backsOffCapsAndExhaustsOnce() {
        RestartPolicy p = new RestartPolicy(CONFIG);
        assertThat(p.observeExited(at(0))).isEqualTo(new RestartPolicy.Decision.Scheduled(Duration.ofSeconds(2)));
        assertThat(p.observeExited(at(1))).isEqualTo(new RestartPolicy.Decision.Wait(at(2)));
        assertThat(p.observeExited(at(2))).isEqualTo(new RestartPolicy.Decision.Restart(1, Duration.ofSeconds(4)));
        assertThat(p.observeExited(at(6))).isEqualTo(new RestartPolicy.Decision.Restart(2, Duration.ofSeconds(5)));
        assertThat(p.observeExited(at(11))).isEqualTo(new RestartPolicy.Decision.Restart(3, Duration.ofSeconds(5)));
        assertThat(p.observeExited(at(12))).isEqualTo(new RestartPolicy.Decision.Exhausted(3));
        assertThat(p.observeExited(at(20))).isEqualTo(new RestartPolicy.Decision.Wait(Instant.MAX));
    }

    @Test
    void resetsOnlyAfterAHealthyWindow() {
        RestartPolicy p = new RestartPolicy(CONFIG);
        p.observeExited(at(0));
        p.observeExited(at(2));
        assertThat(p.observeRunning(at(3))).isFalse();
        assertThat(p.observeRunning(at(12))).isFalse();
        assertThat(p.observeRunning(at(13))).isTrue();
        assertThat(p.attempts()).isZero();
        assertThat(p.observeExited(at(14))).isEqualTo(new RestartPolicy.Decision.Scheduled(Duration.ofSeconds(2)));
    }
}
