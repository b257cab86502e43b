package dev.atlas.client.internal;

import dev.atlas.protocol.internal.ListenerGuard;
import dev.atlas.client.AtlsCall;
import dev.atlas.client.AtlsListener;
import dev.atlas.dstack.AttestationReport;
import java.time.Duration;

/**
 * Calls a user {@link AtlsListener} so that it cannot fail a connection: a {@link RuntimeException} it throws
 * is logged at WARNING once per listener class (System.Logger {@code dev.atlas.client}) and dropped.
 */
public final class SafeAtlsListener implements AtlsListener {
    private static final System.Logger LOG = System.getLogger("dev.atlas.client");

    private final AtlsListener delegate;
    private final ListenerGuard guard;

    private SafeAtlsListener(AtlsListener delegate) {
        this.delegate = delegate;
        this.guard = new ListenerGuard(LOG, "AtlsListener", delegate);
    }

    /** {@code l} behind the guard ({@link AtlsListener#NONE} and guarded listeners as they are). */
    public static AtlsListener wrap(AtlsListener l) {
        return l == AtlsListener.NONE || l instanceof SafeAtlsListener ? l : new SafeAtlsListener(l);
    }

    @Override
    public void callStart(AtlsCall call) {
        guard.run(() -> delegate.callStart(call));
    }

    @Override
    public void connectStart(AtlsCall call) {
        guard.run(() -> delegate.connectStart(call));
    }

    @Override
    public void connectEnd(AtlsCall call, Duration took) {
        guard.run(() -> delegate.connectEnd(call, took));
    }

    @Override
    public void connectFailed(AtlsCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.connectFailed(call, cause, took));
    }

    @Override
    public void handshakeStart(AtlsCall call) {
        guard.run(() -> delegate.handshakeStart(call));
    }

    @Override
    public void handshakeEnd(AtlsCall call, String protocol, String cipherSuite, Duration took) {
        guard.run(() -> delegate.handshakeEnd(call, protocol, cipherSuite, took));
    }

    @Override
    public void handshakeFailed(AtlsCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.handshakeFailed(call, cause, took));
    }

    @Override
    public void quoteStart(AtlsCall call) {
        guard.run(() -> delegate.quoteStart(call));
    }

    @Override
    public void quoteEnd(AtlsCall call, int bytes, Duration took) {
        guard.run(() -> delegate.quoteEnd(call, bytes, took));
    }

    @Override
    public void quoteFailed(AtlsCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.quoteFailed(call, cause, took));
    }

    @Override
    public void verifyStart(AtlsCall call) {
        guard.run(() -> delegate.verifyStart(call));
    }

    @Override
    public void verifyEnd(AtlsCall call, AttestationReport report, Duration took) {
        guard.run(() -> delegate.verifyEnd(call, report, took));
    }

    @Override
    public void verifyFailed(AtlsCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.verifyFailed(call, cause, took));
    }

    @Override
    public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
        guard.run(() -> delegate.callEnd(call, report, took));
    }

    @Override
    public void callFailed(AtlsCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.callFailed(call, cause, took));
    }
}
