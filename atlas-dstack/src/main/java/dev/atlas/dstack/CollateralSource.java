package dev.atlas.dstack;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import dev.atlas.tdx.CollateralCache;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.Quote;
import java.util.Objects;

/** Where {@link DstackTdxVerifier} gets Intel collateral for a quote. Implementations must be thread-safe. */
@FunctionalInterface
public interface CollateralSource {
    /**
     * Returns collateral for {@code quote}. {@code check} verifies candidate collateral; implementations that
     * cache call it before storing, so only collateral that verified is ever reused.
     */
    Collateral collateralFor(Quote quote, CollateralCache.Check check) throws AttestationException;

    /** Always the given collateral (offline verification). */
    static CollateralSource fixed(Collateral collateral) {
        Objects.requireNonNull(collateral, "collateral");
        return (quote, check) -> collateral;
    }

    /** Fetches from a PCCS or Intel PCS on every call. */
    static CollateralSource fetching(CollateralClient client) {
        Objects.requireNonNull(client, "client");
        return (quote, check) -> client.fetch(quote);
    }

    /**
     * Fetches through a cache keyed by (base URL, FMSPC, PCK CA, TEE); concurrent misses share one fetch.
     * The PCK chain always comes from the quote, never from the cache.
     */
    static CollateralSource cached(CollateralClient client, CollateralCache cache) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(cache, "cache");
        return (quote, check) -> {
            return cache.get(client.cacheKey(quote), () -> client.fetch(quote), check);
        };
    }
}
