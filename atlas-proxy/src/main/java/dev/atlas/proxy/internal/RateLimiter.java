package dev.atlas.proxy.internal;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per key (client IP): {@code perSecond} refill, {@code burst} capacity. Full buckets are
 * dropped when the table grows past {@link #MAX_KEYS}, so the table stays bounded however many clients come.
 */
public final class RateLimiter {
    static final int MAX_KEYS = 100_000;

    private final double perNano;
    private final double burst;
    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long last;

        Bucket(double tokens, long last) {
            this.tokens = tokens;
            this.last = last;
        }
    }

    /** {@code perSecond == 0} disables limiting. */
    public RateLimiter(double perSecond, int burst, LongSupplier nanoTime) {
        this.perNano = perSecond / 1e9;
        this.burst = burst;
        this.nanoTime = nanoTime;
    }

    /** Takes one token for the key; false when the bucket is empty. */
    public boolean tryAcquire(String key) {
        if (perNano == 0) {
            return true;
        }
        long now = nanoTime.getAsLong();
        if (buckets.size() > MAX_KEYS) {
            prune(now);
        }
        boolean[] ok = new boolean[1];
        buckets.compute(key, (k, b) -> {
            if (b == null) {
                b = new Bucket(burst, now);
            } else {
                b.tokens = Math.min(burst, b.tokens + (now - b.last) * perNano);
                b.last = now;
            }
            if (b.tokens >= 1) {
                b.tokens -= 1;
                ok[0] = true;
            }
            return b;
        });
        return ok[0];
    }

    private void prune(long now) {
        buckets.entrySet().removeIf(e -> {
            Bucket b = e.getValue();
            synchronized (b) {
                return b.tokens + (now - b.last) * perNano >= burst;
            }
        });
    }

    /** Keys currently tracked (for tests). */
    int size() {
        return buckets.size();
    }
}
