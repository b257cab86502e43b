package dev.atlas.proxy.internal;

import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.ProxyListener;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;

/** What every connection handler of one proxy shares. */
public final class ProxyRuntime {
    /** Resolves a host name to its addresses (blocking; runs off the event loop). */
    @FunctionalInterface
    public interface Resolver {
        List<InetAddress> resolve(String host) throws java.io.IOException;
    }

    final ProxyConfig config;
    public final ProxyListener listener;
    final TunnelSlots slots;
    final RateLimiter rate;
    final TunnelAdmission admission;
    final Resolver resolver;
    final ExecutorService resolveExecutor;
    final PrometheusMeterRegistry registry;
    final java.time.Clock clock;
    final AtomicLong ids = new AtomicLong();
    final ConcurrentHashMap<Long, TunnelState> tunnels = new ConcurrentHashMap<>();
    volatile boolean draining;
    volatile boolean ready;

    public ProxyRuntime(ProxyConfig config, ProxyListener listener, Resolver resolver, ExecutorService resolveExecutor,
            PrometheusMeterRegistry registry, java.time.Clock clock) {
        this.config = config;
        this.listener = listener;
        this.slots = new TunnelSlots(config.maxTunnels(), config.maxTunnelsPerClient());
        this.rate = new RateLimiter(config.ratePerClient(), config.rateBurst(), System::nanoTime);
        this.admission = new TunnelAdmission(config, rate, slots, () -> draining);
        this.resolver = resolver;
        this.resolveExecutor = resolveExecutor;
        this.registry = registry;
        this.clock = clock;
    }

    public void setDraining() {
        draining = true;
        ready = false;
    }

    public void setReady() {
        ready = true;
    }

    /** Tunnels open now. */
    public int openTunnels() {
        return tunnels.size();
    }

    /** Tunnels open or being connected (what a graceful shutdown waits for). */
    public int pendingOrOpen() {
        return slots.held();
    }

    /** The Prometheus text exposition. */
    public String registryScrape() {
        return registry.scrape();
    }

    /** Closes every open tunnel with Close 1001 (shutdown); returns how many there were. */
    public int closeAll() {
        int n = 0;
        for (TunnelState t : tunnels.values()) {
            n++;
            t.shutdown();
        }
        return n;
    }
}
