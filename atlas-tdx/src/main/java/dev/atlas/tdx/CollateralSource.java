package dev.atlas.tdx;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a verifier gets Intel collateral for a quote, and the verification of the quote with it: a source
 * hands back a {@link Verified} result, so a caching source can store collateral only after it verified, and
 * every call verifies exactly once. Implementations must be thread-safe.
 *
 * <p>Build one with {@link #forUrl(String, boolean, Clock)} (what the connector and the CLI use), or with
 * {@link #fixed}, {@link #fetching} or {@link #cached} for offline use and tests.
 */
@FunctionalInterface
public interface CollateralSource {
    /** Lifetime of a cached collateral entry (never longer than the collateral's own {@code nextUpdate}). */
    Duration CACHE_TTL = Duration.ofHours(8);

    /**
     * The result of one verification: the DCAP report and whether the collateral came from a cache (false when
     * it was fetched, or given, for this call).
     */
    record Verified(VerifiedReport report, boolean fromCache) {
        /** Requires a report. */
        public Verified {
            Objects.requireNonNull(report, "report");
        }
    }

    /**
     * Gets collateral for {@code quote} and verifies the quote with it at {@code now}, once.
     *
     * @throws AttestationException the fetch's or the verification's reason
     */
    Verified verify(Quote quote, QuoteVerifier verifier, Instant now) throws AttestationException;

    /** Always the given collateral (offline verification); never "from cache". */
    static CollateralSource fixed(Collateral collateral) {
        Objects.requireNonNull(collateral, "collateral");
        return (quote, verifier, now) -> new Verified(verifier.verify(quote, collateral, now), false);
    }

    /** Fetches from a PCCS or Intel PCS on every call. */
    static CollateralSource fetching(CollateralClient client) {
        Objects.requireNonNull(client, "client");
        return (quote, verifier, now) -> new Verified(verifier.verify(quote, client.fetch(quote), now), false);
    }

    /**
     * Fetches through a cache keyed by (base URL, FMSPC, PCK CA, TEE). A hit verifies once, against the cached
     * collateral; a miss fetches (concurrent misses share one fetch), verifies once and only then stores. A
     * verification that fails never stores anything. The PCK chain always comes from the quote.
     */
    static CollateralSource cached(CollateralClient client, CollateralCache cache) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(cache, "cache");
        return (quote, verifier, now) -> {
            CollateralCache.Key key = client.cacheKey(quote);
            Optional<Collateral> hit = cache.lookup(key);
            if (hit.isPresent()) {
                return new Verified(verifier.verify(quote, hit.get(), now), true);
            }
            Optional<Collateral> file = cache.diskCandidate(key);
            if (file.isPresent()) {
                VerifiedReport r = null;
                try {
                    r = verifier.verify(quote, file.get(), now);
                } catch (AttestationException stale) {
                    // A stale or tampered file (or a quote it does not fit) is not used; fetch again.
                }
                if (r != null) {
                    cache.storeFromDisk(key, file.get());
                    return new Verified(r, true);
                }
            }
            return cache.fetchShared(key, () -> client.fetch(quote), (fresh, fromCache) -> {
                VerifiedReport r = verifier.verify(quote, fresh, now);
                if (!fromCache) {
                    cache.store(key, fresh);
                }
                return new Verified(r, fromCache);
            });
        };
    }

    /**
     * The one production factory: collateral from {@code baseUrl} (a PCCS or Intel PCS), kept for
     * {@link #CACHE_TTL} in memory when {@code cache} is true, else fetched on every call.
     */
    static CollateralSource forUrl(String baseUrl, boolean cache, Clock clock) {
        Objects.requireNonNull(clock, "clock");
        CollateralClient client = CollateralClient.builder().baseUrl(baseUrl).build();
        return cache ? cached(client, CollateralCache.inMemory(CACHE_TTL, clock)) : fetching(client);
    }
}
