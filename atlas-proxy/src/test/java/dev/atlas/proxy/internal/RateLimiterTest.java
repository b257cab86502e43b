package dev.atlas.proxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    @Test
    void burstThenRefillPerKey() {
        AtomicLong now = new AtomicLong();
        RateLimiter r = new RateLimiter(2, 3, now::get);
        assertThat(r.tryAcquire("a")).isTrue();
        assertThat(r.tryAcquire("a")).isTrue();
        assertThat(r.tryAcquire("a")).isTrue();
        assertThat(r.tryAcquire("a")).isFalse();
        assertThat(r.tryAcquire("b")).as("another client has its own bucket").isTrue();
        now.addAndGet(499_000_000L);
        assertThat(r.tryAcquire("a")).isFalse();
        now.addAndGet(1_000_000L);
        assertThat(r.tryAcquire("a")).isTrue();
        now.addAndGet(10_000_000_000L);
        for (int i = 0; i < 3; i++) {
            assertThat(r.tryAcquire("a")).isTrue();
        }
        assertThat(r.tryAcquire("a")).as("refill is capped at the burst").isFalse();
    }

    @Test
    void zeroRateMeansNoLimitAndFullBucketsArePruned() {
        AtomicLong now = new AtomicLong();
        RateLimiter off = new RateLimiter(0, 1, now::get);
        for (int i = 0; i < 100; i++) {
            assertThat(off.tryAcquire("a")).isTrue();
        }
        RateLimiter r = new RateLimiter(1000, 1, now::get);
        for (int i = 0; i <= RateLimiter.MAX_KEYS + 1; i++) {
            r.tryAcquire("k" + i);
        }
        now.addAndGet(1_000_000_000L);
        r.tryAcquire("last");
        assertThat(r.size()).isLessThan(10);
    }

    @Test
    void slotsCountTotalAndPerClient() {
        TunnelSlots s = new TunnelSlots(3, 2);
        assertThat(s.tryAcquire("a")).isEqualTo(TunnelSlots.Result.OK);
        assertThat(s.tryAcquire("a")).isEqualTo(TunnelSlots.Result.OK);
        assertThat(s.tryAcquire("a")).isEqualTo(TunnelSlots.Result.CLIENT_FULL);
        assertThat(s.tryAcquire("b")).isEqualTo(TunnelSlots.Result.OK);
        assertThat(s.tryAcquire("c")).isEqualTo(TunnelSlots.Result.TOTAL_FULL);
        s.release("a");
        assertThat(s.held()).isEqualTo(2);
        assertThat(s.tryAcquire("c")).isEqualTo(TunnelSlots.Result.OK);
    }
}
