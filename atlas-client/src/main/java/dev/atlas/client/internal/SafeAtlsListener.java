package dev.atlas.client.internal;

import dev.atlas.client.AtlsCall;
import dev.atlas.client.AtlsListener;
import dev.atlas.dstack.AttestationReport;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Calls a user {@link AtlsListener} so that it cannot fail a connection: a {@link RuntimeException} it throws
 * is logged at WARNING once per listener class (System.Logger {@code dev.atlas.client}) and dropped.
 */
public final class SafeAtlsListener implements AtlsListener {
    private static final System.Logger LOG = System.getLogger("dev.atlas.client");
    private static final Set<Class<?>> WARNED = ConcurrentHashMap.newKeySet();

    private final AtlsListener delegate;

    private SafeAtlsListener(AtlsListener delegate) {
        this.delegate = delegate;
    }

    /** {@code l} behind the guard ({@link AtlsListener#NONE} and guarded listeners as they are). */
    public static AtlsListener wrap(AtlsListener l) {
        return l == AtlsListener.NONE || l instanceof SafeAtlsListener ? l : new SafeAtlsListener(l);
    }

    private void warnOnce(RuntimeException e) {
        if (WARNED.add(delegate.getClass())) {
            LOG.log(System.Logger.Level.WARNING, "AtlsListener " + delegate.getClass().getName()
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
    public void callStart(AtlsCall call) {
        guard(() -> delegate.callStart(call));
    }

    @Override
    public void connectStart(AtlsCall call) {
        guard(() -> delegate.connectStart(call));
    }

    @Override
    public void connectEnd(AtlsCall call, Duration took) {
        guard(() -> delegate.connectEnd(call, took));
    }

    @Override
    public void connectFailed(AtlsCall call, Exception cause, Duration took) {
        guard(() -> delegate.connectFailed(call, cause, took));
    }

    @Override
    public void handshakeStart(AtlsCall call) {
        guard(() -> delegate.handshakeStart(call));
    }

    @Override
    public void handshakeEnd(AtlsCall call, String protocol, String cipherSuite, Duration took) {
        guard(() -> delegate.handshakeEnd(call, protocol, cipherSuite, took));
    }

    @Override
    public void handshakeFailed(AtlsCall call, Exception cause, Duration took) {
        guard(() -> delegate.handshakeFailed(call, cause, took));
    }

    @Override
    public void quoteStart(AtlsCall call) {
        guard(() -> delegate.quoteStart(call));
    }

    @Override
    public void quoteEnd(AtlsCall call, int bytes, Duration took) {
        guard(() -> delegate.quoteEnd(call, bytes, took));
    }

    @Override
    public void quoteFailed(AtlsCall call, Exception cause, Duration took) {
        guard(() -> delegate.quoteFailed(call, cause, took));
    }

    @Override
    public void verifyStart(AtlsCall call) {
        guard(() -> delegate.verifyStart(call));
    }

    @Override
    public void verifyEnd(AtlsCall call, AttestationReport report, Duration took) {
        guard(() -> delegate.verifyEnd(call, report, took));
    }

    @Override
    public void verifyFailed(AtlsCall call, Exception cause, Duration took) {
        guard(() -> delegate.verifyFailed(call, cause, took));
    }

    @Override
    public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
        guard(() -> delegate.callEnd(call, report, took));
    }

    @Override
    public void callFailed(AtlsCall call, Exception cause, Duration took) {
        guard(() -> delegate.callFailed(call, cause, took));
    }
}
