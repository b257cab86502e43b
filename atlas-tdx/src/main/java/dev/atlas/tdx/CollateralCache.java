package dev.atlas.tdx;

import dev.atlas.tdx.internal.Pki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

/**
 * A cache of collateral keyed by (base URL, FMSPC, CA type, TEE), in memory and optionally on disk.
 *
 * <ul>
 *   <li>An entry is stored only after it verified: {@link #store} is called after a quote verified with it
 *       (as {@link CollateralSource#cached} does, looking entries up with {@link #lookup}), and
 *       {@link #get} stores only what the caller's {@link Check} accepted; an unverified entry is never
 *       served. Entries read back from disk are unverified until
 *       they pass the check again.</li>
 *   <li>An entry expires at the earlier of (stored + TTL) and the earliest {@code nextUpdate} of its TCB
 *       info, QE identity and CRLs; an expired entry is never served.</li>
 *   <li>Concurrent requests for the same key share one fetch.</li>
 * </ul>
 * Serving from the cache never replaces verification: {@link QuoteVerifier} still checks every signature
 * and date of the collateral it is given. Thread-safe.
 */
public final class CollateralCache {
    /** Fetches collateral on a miss. */
    public interface Fetcher {
        Collateral fetch() throws AttestationException;
    }

    /** Accepts (returns) or rejects (throws) fetched collateral before it is stored. */
    public interface Check {
        void check(Collateral c) throws AttestationException;
    }

    /**
     * Cache key: base URL (normalized as {@link CollateralClient} does), FMSPC (upper case), PCK CA type and TEE.
     * {@link #toString()} is the one-line form used in messages.
     */
    public record Key(String baseUrl, String fmspc, String caType, TeeType tee) {
        /** Normalizes the base URL and the FMSPC's case, so equal targets give equal keys. */
        public Key {
            baseUrl = CollateralClient.normalizeBaseUrl(baseUrl);
            fmspc = fmspc.toUpperCase(java.util.Locale.ROOT);
            Objects.requireNonNull(caType, "caType");
            Objects.requireNonNull(tee, "tee");
        }

        String id() {
            return baseUrl + "|" + fmspc + "|" + caType + "|" + tee;
        }

        @Override
        public String toString() {
            return id();
        }
    }

    /** A stored collateral and when it stops being served. */
    private record Entry(Collateral collateral, Instant expiresAt) { }

    private final Duration ttl;
    private final Clock clock;
    private final Path directory;
    private final Map<Key, Entry> entries = new ConcurrentHashMap<>();
    private final Map<Key, CompletableFuture<Entry>> inflight = new ConcurrentHashMap<>();
    private final Map<Key, CompletableFuture<Collateral>> fetching = new ConcurrentHashMap<>();

    private CollateralCache(Duration ttl, Clock clock, Path directory) {
        this.ttl = ttl;
        this.clock = clock;
        this.directory = directory;
    }

    /** An in-memory cache. */
    public static CollateralCache inMemory(Duration ttl, Clock clock) {
        return new CollateralCache(positive(ttl), Objects.requireNonNull(clock), null);
    }

    /** A cache that also keeps entries as files in {@code directory} (created if missing). */
    public static CollateralCache onDisk(Duration ttl, Clock clock, Path directory) throws IOException {
        Files.createDirectories(directory);
        return new CollateralCache(positive(ttl), Objects.requireNonNull(clock), directory);
    }

    private static Duration positive(Duration d) {
        return dev.atlas.tdx.internal.Checks.positive(d, "ttl");
    }

    /**
     * The stored, unexpired collateral for {@code key}, if any (in memory only; entries are stored only after
     * they verified). An expired entry is dropped and never returned.
     */
    public java.util.Optional<Collateral> lookup(Key key) {
        Objects.requireNonNull(key, "key");
        Entry e = entries.get(key);
        if (e == null) {
            return java.util.Optional.empty();
        }
        if (clock.instant().isBefore(e.expiresAt())) {
            return java.util.Optional.of(e.collateral());
        }
        entries.remove(key, e);
        return java.util.Optional.empty();
    }

    /**
     * Stores collateral that the caller has just verified (a quote verified with it), in memory and, for a disk
     * cache, as a file. It expires at the earlier of now + TTL and its earliest {@code nextUpdate}.
     *
     * @throws AttestationException {@link AttestationException.Reason#COLLATERAL_EXPIRED} if it is already past
     *     its {@code nextUpdate} (nothing is stored)
     */
    public void store(Key key, Collateral verified) throws AttestationException {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(verified, "verified");
        Instant now = clock.instant();
        Instant exp = expiry(verified, now);
        if (!now.isBefore(exp)) {
            throw new AttestationException(AttestationException.Reason.COLLATERAL_EXPIRED, "fetched collateral for " + key
                    + " is already past its nextUpdate (" + exp + ")");
        }
        if (directory != null) {
            writeDisk(key, verified, now);
        }
        entries.put(key, new Entry(verified, exp));
    }

    /**
     * An unexpired file entry for {@code key} (disk caches only), not yet verified in this process: the caller
     * verifies it and then {@link #storeFromDisk stores} it, or ignores it and fetches.
     */
    java.util.Optional<Collateral> diskCandidate(Key key) {
        if (directory == null) {
            return java.util.Optional.empty();
        }
        Collateral c = readDisk(key);
        if (c == null) {
            return java.util.Optional.empty();
        }
        try {
            return clock.instant().isBefore(expiry(c, fileStoredAt(key))) ? java.util.Optional.of(c)
                    : java.util.Optional.empty();
        } catch (AttestationException e) {
            return java.util.Optional.empty();
        }
    }

    /** Keeps a verified {@link #diskCandidate} in memory, expiring as its file does. */
    void storeFromDisk(Key key, Collateral verified) throws AttestationException {
        entries.put(key, new Entry(verified, expiry(verified, fileStoredAt(key))));
    }

    /** What each caller of {@link #fetchShared} does with the shared collateral (verify it, then store it). */
    interface Use<T> {
        T apply(Collateral c, boolean fromCache) throws AttestationException;
    }

    /**
     * Runs {@code fetcher} once for all concurrent callers asking for the same {@code key} and applies
     * {@code use} to the result in each caller. The fetching caller holds the key's slot until its own
     * {@code use} (verify, then {@link #store}) has returned or failed, so a caller arriving in between joins
     * the finished fetch instead of starting a second one; a caller that wins a slot after another caller's
     * store finds the stored entry instead of fetching. Nothing is stored here.
     */
    <T> T fetchShared(Key key, Fetcher fetcher, Use<T> use) throws AttestationException {
        CompletableFuture<Collateral> mine = new CompletableFuture<>();
        CompletableFuture<Collateral> running = fetching.putIfAbsent(key, mine);
        if (running != null) {
            return use.apply(awaitCollateral(running), false);
        }
        try {
            java.util.Optional<Collateral> stored = lookup(key);
            if (stored.isPresent()) {
                mine.complete(stored.get());
                return use.apply(stored.get(), true);
            }
            Collateral c;
            try {
                c = fetcher.fetch();
            } catch (AttestationException | RuntimeException ex) {
                mine.completeExceptionally(ex);
                throw ex;
            }
            mine.complete(c);
            return use.apply(c, false);
        } finally {
            fetching.remove(key, mine);
        }
    }

    private static Collateral awaitCollateral(CompletableFuture<Collateral> f) throws AttestationException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AttestationException(AttestationException.Reason.COLLATERAL_FETCH_FAILED, "interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AttestationException a) {
                throw new AttestationException(a.reason(), a.detail(), a);
            }
            throw new AttestationException(AttestationException.Reason.COLLATERAL_FETCH_FAILED, String.valueOf(e.getCause()),
                    e.getCause());
        }
    }

    /**
     * Returns fresh collateral for {@code key}: a stored, checked, unexpired entry, or one fetched (once,
     * for all concurrent callers), checked and stored.
     */
    public Collateral get(Key key, Fetcher fetcher, Check check) throws AttestationException {
        Instant now = clock.instant();
        Entry e = entries.get(key);
        if (e != null && now.isBefore(e.expiresAt())) {
            return e.collateral();
        }
        if (e != null) {
            entries.remove(key, e);
        }
        CompletableFuture<Entry> mine = new CompletableFuture<>();
        CompletableFuture<Entry> running = inflight.putIfAbsent(key, mine);
        if (running != null) {
            return await(running);
        }
        try {
            Entry fresh = load(key, fetcher, check, now);
            entries.put(key, fresh);
            mine.complete(fresh);
            return fresh.collateral();
        } catch (AttestationException | RuntimeException ex) {
            mine.completeExceptionally(ex);
            throw ex;
        } finally {
            inflight.remove(key, mine);
        }
    }

    private Entry load(Key key, Fetcher fetcher, Check check, Instant now) throws AttestationException {
        if (directory != null) {
            Collateral fromDisk = readDisk(key);
            if (fromDisk != null) {
                try {
                    check.check(fromDisk);
                    Instant exp = expiry(fromDisk, fileStoredAt(key));
                    if (now.isBefore(exp)) {
                        return new Entry(fromDisk, exp);
                    }
                } catch (AttestationException ignored) {
                    // A stale or tampered file is not used; fetch again.
                }
            }
        }
        Collateral c = fetcher.fetch();
        check.check(c);
        Instant exp = expiry(c, now);
        if (!now.isBefore(exp)) {
            throw new AttestationException(AttestationException.Reason.COLLATERAL_EXPIRED, "fetched collateral for " + key
                    + " is already past its nextUpdate (" + exp + ")");
        }
        if (directory != null) {
            writeDisk(key, c, now);
        }
        return new Entry(c, exp);
    }

    private static Collateral await(CompletableFuture<Entry> f) throws AttestationException {
        try {
            return f.get().collateral();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AttestationException(AttestationException.Reason.COLLATERAL_FETCH_FAILED, "interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AttestationException) {
                AttestationException a = (AttestationException) e.getCause();
                throw new AttestationException(a.reason(), a.detail(), a);
            }
            throw new AttestationException(AttestationException.Reason.COLLATERAL_FETCH_FAILED, String.valueOf(e.getCause()),
                    e.getCause());
        }
    }

    /** min(storedAt + TTL, every nextUpdate in the collateral). */
    Instant expiry(Collateral c, Instant storedAt) throws AttestationException {
        Instant exp = storedAt.plus(ttl);
        exp = min(exp, Instant.ofEpochSecond(dev.atlas.tdx.internal.Dates.epochSeconds(c.parts.tcbInfo().nextUpdate(),
                "Failed to parse TCB Info next update")));
        exp = min(exp, Instant.ofEpochSecond(dev.atlas.tdx.internal.Dates.epochSeconds(c.parts.qeIdentity().nextUpdate(),
                "Failed to parse QE Identity next update")));
        exp = min(exp, c.parts.rootCaCrl().getNextUpdate().toInstant());
        exp = min(exp, c.parts.pckCrl().getNextUpdate().toInstant());
        return exp;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }

    /** Drops every in-memory entry. */
    public void clear() {
        entries.clear();
    }

    private Path file(Key key) {
        return directory.resolve(Pki.sha256Hex(key.id().getBytes(StandardCharsets.UTF_8)) + ".json");
    }

    private Instant fileStoredAt(Key key) {
        try {
            return Files.getLastModifiedTime(file(key)).toInstant();
        } catch (IOException e) {
            return Instant.EPOCH;
        }
    }

    private Collateral readDisk(Key key) {
        Path f = file(key);
        try {
            if (!Files.isRegularFile(f) || Files.size(f) > Collateral.MAX_JSON_CHARS) {
                return null;
            }
            return Collateral.fromJson(Files.readString(f, StandardCharsets.UTF_8));
        } catch (IOException | AttestationException e) {
            return null;
        }
    }

    private void writeDisk(Key key, Collateral c, Instant now) {
        Path f = file(key);
        try {
            Path tmp = Files.createTempFile(directory, "collateral", ".tmp");
            Files.writeString(tmp, c.toJson(), StandardCharsets.UTF_8);
            Files.setLastModifiedTime(tmp, java.nio.file.attribute.FileTime.from(now));
            try {
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // The disk copy is an optimisation; the in-memory entry still serves.
        }
    }
}
