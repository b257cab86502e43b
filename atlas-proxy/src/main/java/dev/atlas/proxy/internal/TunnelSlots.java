package dev.atlas.proxy.internal;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts tunnels in total and per client; a slot is held from the accepted upgrade request to the close. */
public final class TunnelSlots {
    /** The outcome of {@link #tryAcquire}. */
    public enum Result { OK, TOTAL_FULL, CLIENT_FULL }

    private final int maxTotal;
    private final int maxPerClient;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<String, Integer> perClient = new ConcurrentHashMap<>();

    public TunnelSlots(int maxTotal, int maxPerClient) {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
    }

    public Result tryAcquire(String client) {
        if (total.incrementAndGet() > maxTotal) {
            total.decrementAndGet();
            return Result.TOTAL_FULL;
        }
        boolean[] ok = new boolean[1];
        perClient.compute(client, (k, n) -> {
            int c = n == null ? 0 : n;
            if (c >= maxPerClient) {
                return n;
            }
            ok[0] = true;
            return c + 1;
        });
        if (!ok[0]) {
            total.decrementAndGet();
            return Result.CLIENT_FULL;
        }
        return Result.OK;
    }

    public void release(String client) {
        perClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
        total.decrementAndGet();
    }

    /** Slots held now. */
    public int held() {
        return total.get();
    }
}
