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

    @Override
    public void started(InetSocketAddress address, String certificateSha256Hex, String provider) {
        try {
            delegate.started(address, certificateSha256Hex, provider);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void callStart(AtlsServerCall call) {
        try {
            delegate.callStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteStart(AtlsServerCall call) {
        try {
            delegate.quoteStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteEnd(AtlsServerCall call, Duration took) {
        try {
            delegate.quoteEnd(call, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteFailed(AtlsServerCall call, Exception cause, Duration took) {
        try {
            delegate.quoteFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void requestRejected(AtlsServerCall call, int status, String reason) {
        try {
            delegate.requestRejected(call, status, reason);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void applicationFailed(AtlsServerCall call, Exception cause, Duration took) {
        try {
            delegate.applicationFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void callEnd(AtlsServerCall call, int status, Duration took) {
        try {
            delegate.callEnd(call, status, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void callFailed(AtlsServerCall call, Exception cause, Duration took) {
        try {
            delegate.callFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void stopped() {
        try {
            delegate.stopped();
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }
}
