package dev.atlas.client;

import java.net.Socket;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Aborts a TCP socket when an attempt outlives its deadline. Socket timeouts bound one read each; this bounds
 * the sum. One shared daemon thread serves every connector; a disarmed watchdog is removed from its queue.
 */
final class Watchdog {
    /** How long after the deadline the socket is aborted (the reads' own timeouts normally end it first). */
    static final long GRACE_MILLIS = 200;

    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private final Socket tcp;
    private static final int ARMED = 0;
    private static final int DISARMED = 1;
    private static final int FIRED = 2;
    private final AtomicInteger state = new AtomicInteger(ARMED);
    private volatile ScheduledFuture<?> task;

    private Watchdog(Socket tcp) {
        this.tcp = tcp;
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "atlas-attestation-deadline");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Aborts {@code tcp} after {@code millis} unless {@link #disarm} is called first. */
    static Watchdog arm(Socket tcp, long millis) {
        Watchdog w = new Watchdog(tcp);
        w.task = TIMER.schedule(w::fire, millis, TimeUnit.MILLISECONDS);
        return w;
    }

    private void fire() {
        if (state.compareAndSet(ARMED, FIRED)) {
            AtlsConnector.abort(tcp);
        }
    }

    /**
     * Stops the watchdog (idempotent).
     *
     * @return false when it had fired (the socket is aborted), true otherwise
     */
    boolean disarm() {
        if (state.compareAndSet(ARMED, DISARMED)) {
            ScheduledFuture<?> t = task;
            if (t != null) {
                t.cancel(false);
            }
        }
        return state.get() != FIRED;
    }
}
