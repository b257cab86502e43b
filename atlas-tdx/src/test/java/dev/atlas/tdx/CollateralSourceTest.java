package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.MockPccs;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link CollateralSource}: every call verifies exactly once; a miss stores only after verifying; a failed
 * verification stores nothing; {@code fromCache} says which happened; {@link CollateralSource#forUrl} builds the
 * fetching or the caching source. The quote is parsed once, by the caller.
 */
class CollateralSourceTest {
    static final DcapEvidence EV = DcapEvidence.tdx().build();
    static final Instant AT = EV.verificationTime();

    MockPccs pccs;
    Quote quote;
    QuoteVerifier verifier;

    @BeforeEach
    void start() throws Exception {
        pccs = MockPccs.start(EV::collateralJson, 0);
        quote = Quote.parse(EV.quote());
        verifier = QuoteVerifier.builder().insecureTrustAnchorForTesting(EV.rootCertificate()).build();
    }

    @AfterEach
    void stop() {
        pccs.close();
    }

    CollateralClient client() {
        return CollateralClient.builder().baseUrl(pccs.baseUrl()).build();
    }

    @Test
    void cached_missVerifiesOnceAndStores_hitVerifiesOnceWithoutFetching() throws Exception {
        CollateralCache cache = CollateralCache.inMemory(Duration.ofHours(1), Clock.fixed(AT, ZoneOffset.UTC));
        CollateralSource source = CollateralSource.cached(client(), cache);

        CollateralSource.Verified miss = source.verify(quote, verifier, AT);
        assertThat(miss.fromCache()).isFalse();
        assertThat(miss.report().status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(verifier.verificationCount()).isEqualTo(1);
        assertThat(cache.lookup(client().cacheKey(quote))).isPresent();
        int fetched = pccs.requestCount();
        assertThat(fetched).isPositive();

        CollateralSource.Verified hit = source.verify(quote, verifier, AT);
        assertThat(hit.fromCache()).isTrue();
        assertThat(verifier.verificationCount()).isEqualTo(2);
        assertThat(pccs.requestCount()).isEqualTo(fetched);
    }

    @Test
    void fetchShared_aCallerArrivingWhileTheWinnerVerifiesJoinsItsFetch_andOneArrivingAfterTheStoreFindsIt()
            throws Exception {
        CollateralCache cache = CollateralCache.inMemory(Duration.ofHours(1), Clock.fixed(AT, ZoneOffset.UTC));
        CollateralCache.Key key = client().cacheKey(quote);
        java.util.concurrent.atomic.AtomicInteger fetches = new java.util.concurrent.atomic.AtomicInteger();
        CollateralCache.Fetcher fetcher = () -> {
            fetches.incrementAndGet();
            return client().fetch(quote);
        };
        java.util.concurrent.atomic.AtomicReference<Boolean> late = new java.util.concurrent.atomic.AtomicReference<>();
        // The late caller runs inside the winner's use, i.e. after the fetch and before the winner's store:
        // the window in which a second fetch used to start.
        cache.fetchShared(key, fetcher, (c, fromCache) -> {
            late.set(cache.fetchShared(key, fetcher, (c2, fromCache2) -> fromCache2));
            cache.store(key, c);
            return fromCache;
        });
        assertThat(fetches.get()).isEqualTo(1);
        assertThat(late.get()).isFalse();
        // After the store, a caller that missed its lookup (raced) and wins the slot finds the entry.
        boolean afterStore = cache.fetchShared(key, fetcher, (c, fromCache) -> fromCache);
        assertThat(afterStore).isTrue();
        assertThat(fetches.get()).isEqualTo(1);
    }

    @Test
    void cached_failedVerificationIsNeverStored() throws Exception {
        CollateralCache cache = CollateralCache.inMemory(Duration.ofHours(1), Clock.fixed(AT, ZoneOffset.UTC));
        CollateralSource source = CollateralSource.cached(client(), cache);
        QuoteVerifier production = QuoteVerifier.create(); // the mock PKI's root is not Intel's
        for (int i = 1; i <= 2; i++) {
            AttestationException e = assertThrows(AttestationException.class, () -> source.verify(quote, production, AT));
            assertThat(e.reason()).isEqualTo(AttestationException.Reason.ROOT_CA_UNTRUSTED);
            assertThat(production.verificationCount()).isEqualTo(i);
            assertThat(cache.lookup(client().cacheKey(quote))).isEmpty();
        }
        int afterTwoMisses = pccs.requestCount();
        source.verify(quote, verifier, AT);
        assertThat(pccs.requestCount()).isGreaterThan(afterTwoMisses); // still a miss: nothing was stored
    }

    @Test
    void fixedAndFetching_areNeverFromCache_andVerifyOnce() throws Exception {
        CollateralSource.Verified f = CollateralSource.fixed(Collateral.fromJson(EV.collateralJson()))
                .verify(quote, verifier, AT);
        assertThat(f.fromCache()).isFalse();
        assertThat(verifier.verificationCount()).isEqualTo(1);
        CollateralSource fetching = CollateralSource.fetching(client());
        assertThat(fetching.verify(quote, verifier, AT).fromCache()).isFalse();
        int once = pccs.requestCount();
        assertThat(fetching.verify(quote, verifier, AT).fromCache()).isFalse();
        assertThat(pccs.requestCount()).isEqualTo(2 * once);
        assertThat(verifier.verificationCount()).isEqualTo(3);
    }

    @Test
    void forUrl_cachesOnlyWhenAsked() throws Exception {
        Clock clock = Clock.fixed(AT, ZoneOffset.UTC);
        CollateralSource cached = CollateralSource.forUrl(pccs.tdxUrl(), true, clock);
        assertThat(cached.verify(quote, verifier, AT).fromCache()).isFalse();
        assertThat(cached.verify(quote, verifier, AT).fromCache()).isTrue();
        CollateralSource fetching = CollateralSource.forUrl(pccs.tdxUrl(), false, clock);
        assertThat(fetching.verify(quote, verifier, AT).fromCache()).isFalse();
        assertThat(fetching.verify(quote, verifier, AT).fromCache()).isFalse();
        assertThat(CollateralSource.CACHE_TTL).isEqualTo(Duration.ofHours(8));
    }

    @Test
    void verifyingAParsedQuote_doesNotParseItAgain() throws Exception {
        VerifiedReport r = verifier.verify(quote, Collateral.fromJson(EV.collateralJson()), AT);
        assertThat(r.quote()).isSameAs(quote);
        VerifiedReport viaSource = CollateralSource.fixed(Collateral.fromJson(EV.collateralJson()))
                .verify(quote, verifier, AT).report();
        assertThat(viaSource.quote()).isSameAs(quote);
    }

    @Test
    void bytesOverload_keepsItsOrder_anchorBeforeQuoteDecoding() throws Exception {
        // A truncated quote with collateral whose chains lack the pinned root: the anchor step reports first.
        byte[] truncated = java.util.Arrays.copyOf(EV.quote(), 40);
        AttestationException e = assertThrows(AttestationException.class,
                () -> QuoteVerifier.create().verify(truncated, Collateral.fromJson(EV.collateralJson()), AT));
        assertThat(e.reason()).isEqualTo(AttestationException.Reason.ROOT_CA_UNTRUSTED);
        AttestationException m = assertThrows(AttestationException.class,
                () -> verifier.verify(truncated, Collateral.fromJson(EV.collateralJson()), AT));
        assertThat(m.reason()).isEqualTo(AttestationException.Reason.MALFORMED_QUOTE);
    }
}
