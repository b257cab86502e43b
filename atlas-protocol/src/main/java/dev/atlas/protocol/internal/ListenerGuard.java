package dev.atlas.protocol.internal;

import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs calls into one user listener so that they cannot fail the operation: a {@link RuntimeException} the
 * listener throws is logged at WARNING once per listener type and class, and dropped. Shared by the client's
 * and the server's listener guards (exported to those modules only).
 */
public final class ListenerGuard {
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    private final System.Logger log;
    private final String name;

    /**
     * @param log          where the first failure of each listener class is logged
     * @param listenerType the interface's simple name, for the message ({@code AtlsListener})
     * @param listener     the user's listener
     */
    public ListenerGuard(System.Logger log, String listenerType, Object listener) {
        this.log = Objects.requireNonNull(log, "log");
        this.name = listenerType + " " + listener.getClass().getName();
    }

    /** Runs one listener call; what it throws is logged once and dropped (events are few per connection). */
    public void run(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            if (WARNED.add(name)) {
                log.log(System.Logger.Level.WARNING, name + " threw; ignored (logged once per listener class)", e);
            }
        }
    }
}
