package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.config.ConfigTree;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** {@code serde-duration}: every {@code <n><unit>} reads as n times the unit; larger values never wrap. */
class DurationPropertiesTest {
    @Property(tries = 300)
    void valueTimesUnit(@ForAll @LongRange(min = 0, max = 100_000_000_000L) long n,
            @ForAll @IntRange(min = 0, max = 3) int u) {
        String[] units = {"s", "m", "h", "d"};
        long[] mult = {1, 60, 3600, 86400};
        assertThat(ConfigTree.parseDuration(n + units[u])).isEqualTo(Duration.ofSeconds(n * mult[u]));
    }

    @Property(tries = 100)
    void overflowIsAnErrorNotAWrap(@ForAll @LongRange(min = Long.MAX_VALUE / 86400 + 1) long n) {
        try {
            Duration d = ConfigTree.parseDuration(n + "d");
            throw new AssertionError("accepted " + d);
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).contains("too large");
        }
    }
}
