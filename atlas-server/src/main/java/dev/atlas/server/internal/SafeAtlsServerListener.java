package dev.atlas.server.internal;

import dev.atlas.server.AtlsServerCall;
import dev.atlas.server.AtlsServerListener;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Calls a user {@link AtlsServerListener} so that it cannot fail a request: a {@link RuntimeException} it
 * throws is logged at WARNING once per listener class (System.Logger {@code dev.atlas.server}) and dropped.
 */
public final class SafeAtlsServerListener implements AtlsServerListener {
    private static final System.Logger LOG = System.getLogger("dev.atlas.server");
    private static final Set<Class<?>> WARNED = ConcurrentHashMap.newKeySet();

    private final AtlsServerListener delegate;

    private SafeAtlsServerListener(AtlsServerListener delegate) {
        this.delegate = delegate;
    }

    /** {@code l} behind the guard ({@link AtlsServerListener#NONE} and guarded listeners as they are). */
    public static AtlsServerListener wrap(AtlsServerListener l) {
        return l == AtlsServerListener.NONE || l instanceof SafeAtlsServerListener ? l : new SafeAtlsServerListener(l);
    }

    private void warnOnce(RuntimeException e) {
        if (WARNED.add(delegate.getClass())) {
            LOG.log(System.Logger.Level.WARNING, "AtlsServerListener " + delegate.getClass().getName()
                    + " threw; ignored (logged once per listener class)", e);
        }
    }

    /** Runs one listener call; what it throws is logged once and dropped (events are few per connection). */
    private void guard(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void started(InetSocketAddress address, String certificateSha256Hex, String provider) {
        guard(() -> delegate.started(address, certificateSha256Hex, provider));
    }

    @Override
    public void callStart(AtlsServerCall call) {
        guard(() -> delegate.callStart(call));
    }

    @Override
    public void quoteStart(AtlsServerCall call) {
        guard(() -> delegate.quoteStart(call));
    }

    @Override
    public void quoteEnd(AtlsServerCall call, Duration took) {
        guard(() -> delegate.quoteEnd(call, took));
    }

    @Override
    public void quoteFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard(() -> delegate.quoteFailed(call, cause, took));
    }

    @Override
    public void requestRejected(AtlsServerCall call, int status, String reason) {
        guard(() -> delegate.requestRejected(call, status, reason));
    }

    @Override
    public void applicationFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard(() -> delegate.applicationFailed(call, cause, took));
    }

    @Override
    public void callEnd(AtlsServerCall call, int status, Duration took) {
        guard(() -> delegate.callEnd(call, status, took));
    }

    @Override
    public void callFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard(() -> delegate.callFailed(call, cause, took));
    }

    @Override
    public void stopped() {
        guard(() -> delegate.stopped());
    }
}
