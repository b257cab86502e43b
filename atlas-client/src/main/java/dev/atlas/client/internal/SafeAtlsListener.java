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

    @Override
    public void callStart(AtlsCall call) {
        try {
            delegate.callStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void connectStart(AtlsCall call) {
        try {
            delegate.connectStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void connectEnd(AtlsCall call, Duration took) {
        try {
            delegate.connectEnd(call, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void connectFailed(AtlsCall call, Exception cause, Duration took) {
        try {
            delegate.connectFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void handshakeStart(AtlsCall call) {
        try {
            delegate.handshakeStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void handshakeEnd(AtlsCall call, String protocol, String cipherSuite, Duration took) {
        try {
            delegate.handshakeEnd(call, protocol, cipherSuite, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void handshakeFailed(AtlsCall call, Exception cause, Duration took) {
        try {
            delegate.handshakeFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteStart(AtlsCall call) {
        try {
            delegate.quoteStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteEnd(AtlsCall call, int bytes, Duration took) {
        try {
            delegate.quoteEnd(call, bytes, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void quoteFailed(AtlsCall call, Exception cause, Duration took) {
        try {
            delegate.quoteFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void verifyStart(AtlsCall call) {
        try {
            delegate.verifyStart(call);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void verifyEnd(AtlsCall call, AttestationReport report, Duration took) {
        try {
            delegate.verifyEnd(call, report, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void verifyFailed(AtlsCall call, Exception cause, Duration took) {
        try {
            delegate.verifyFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void callEnd(AtlsCall call, AttestationReport report, Duration took) {
        try {
            delegate.callEnd(call, report, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }

    @Override
    public void callFailed(AtlsCall call, Exception cause, Duration took) {
        try {
            delegate.callFailed(call, cause, took);
        } catch (RuntimeException e) {
            warnOnce(e);
        }
    }
}
