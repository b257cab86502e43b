package dev.atlas.server.internal;

import dev.atlas.protocol.internal.ListenerGuard;
import dev.atlas.server.AtlsServerCall;
import dev.atlas.server.AtlsServerListener;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Calls a user {@link AtlsServerListener} so that it cannot fail a request: a {@link RuntimeException} it
 * throws is logged at WARNING once per listener class (System.Logger {@code dev.atlas.server}) and dropped.
 */
public final class SafeAtlsServerListener implements AtlsServerListener {
    private static final System.Logger LOG = System.getLogger("dev.atlas.server");

    private final AtlsServerListener delegate;
    private final ListenerGuard guard;

    private SafeAtlsServerListener(AtlsServerListener delegate) {
        this.delegate = delegate;
        this.guard = new ListenerGuard(LOG, "AtlsServerListener", delegate);
    }

    /** {@code l} behind the guard ({@link AtlsServerListener#NONE} and guarded listeners as they are). */
    public static AtlsServerListener wrap(AtlsServerListener l) {
        return l == AtlsServerListener.NONE || l instanceof SafeAtlsServerListener ? l : new SafeAtlsServerListener(l);
    }

    @Override
    public void started(InetSocketAddress address, String certificateSha256Hex, String provider) {
        guard.run(() -> delegate.started(address, certificateSha256Hex, provider));
    }

    @Override
    public void callStart(AtlsServerCall call) {
        guard.run(() -> delegate.callStart(call));
    }

    @Override
    public void quoteStart(AtlsServerCall call) {
        guard.run(() -> delegate.quoteStart(call));
    }

    @Override
    public void quoteEnd(AtlsServerCall call, Duration took) {
        guard.run(() -> delegate.quoteEnd(call, took));
    }

    @Override
    public void quoteFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.quoteFailed(call, cause, took));
    }

    @Override
    public void requestRejected(AtlsServerCall call, int status, String reason) {
        guard.run(() -> delegate.requestRejected(call, status, reason));
    }

    @Override
    public void applicationFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.applicationFailed(call, cause, took));
    }

    @Override
    public void callEnd(AtlsServerCall call, int status, Duration took) {
        guard.run(() -> delegate.callEnd(call, status, took));
    }

    @Override
    public void callFailed(AtlsServerCall call, Exception cause, Duration took) {
        guard.run(() -> delegate.callFailed(call, cause, took));
    }

    @Override
    public void stopped() {
        guard.run(() -> delegate.stopped());
    }
}
