package dev.atlas.dstack.gateway.internal;

/**
 * One live proxied connection counted against its instance (for {@code max_connections_per_app} and the
 * dashboard). Obtained from {@link Router#acquire(Backend)} once the connection to the backend is up; closing it
 * (idempotent) gives the slot back.
 */
public interface ConnectionLease extends AutoCloseable {
    /** The backend this lease counts against. */
    Backend backend();

    /** Releases the slot; calling it again does nothing. */
    @Override
    void close();
}
