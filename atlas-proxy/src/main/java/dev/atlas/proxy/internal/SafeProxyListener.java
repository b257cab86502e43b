package dev.atlas.proxy.internal;

import dev.atlas.proxy.ProxyConfig;
import dev.atlas.proxy.ProxyListener;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Calls every listener in order, each through a guard: a {@link RuntimeException} from a listener is logged once
 * per listener class at WARNING and swallowed, so a faulty listener never fails a tunnel, skips another listener
 * or leaks a slot.
 */
public final class SafeProxyListener implements ProxyListener {
    private static final System.Logger LOG = System.getLogger(SafeProxyListener.class.getName());
    private static final Set<Class<?>> WARNED = ConcurrentHashMap.newKeySet();

    private final ProxyListener[] listeners;

    public SafeProxyListener(List<ProxyListener> listeners) {
        this.listeners = listeners.toArray(new ProxyListener[0]);
    }

    private void each(String event, Consumer<ProxyListener> call) {
        for (ProxyListener l : listeners) {
            try {
                call.accept(l);
            } catch (RuntimeException e) {
                if (WARNED.add(l.getClass())) {
                    LOG.log(System.Logger.Level.WARNING, "proxy listener " + l.getClass().getName() + " threw in "
                            + event + " (ignored; logged once per listener class)", e);
                }
            }
        }
    }

    @Override
    public void started(InetSocketAddress listen, InetSocketAddress admin, ProxyConfig config) {
        each("started", l -> l.started(listen, admin, config));
    }

    @Override
    public void rejected(Rejection rejection) {
        each("rejected", l -> l.rejected(rejection));
    }

    @Override
    public void tunnelStart(Tunnel tunnel) {
        each("tunnelStart", l -> l.tunnelStart(tunnel));
    }

    @Override
    public void tunnelEnd(Tunnel tunnel, Duration took) {
        each("tunnelEnd", l -> l.tunnelEnd(tunnel, took));
    }

    @Override
    public void forwarded(boolean toTarget, int bytes) {
        for (ProxyListener l : listeners) { // hot path: no lambda
            try {
                l.forwarded(toTarget, bytes);
            } catch (RuntimeException e) {
                if (WARNED.add(l.getClass())) {
                    LOG.log(System.Logger.Level.WARNING, "proxy listener " + l.getClass().getName()
                            + " threw in forwarded (ignored; logged once per listener class)", e);
                }
            }
        }
    }

    @Override
    public void draining(int openTunnels, Duration deadline) {
        each("draining", l -> l.draining(openTunnels, deadline));
    }

    @Override
    public void stopped(int forciblyClosed) {
        each("stopped", l -> l.stopped(forciblyClosed));
    }
}
