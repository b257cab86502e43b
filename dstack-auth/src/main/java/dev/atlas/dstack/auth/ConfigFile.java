package dev.atlas.dstack.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * The config file as the server decides on it: only a <em>settled</em> file, and each settled version parsed once.
 *
 * <p>A file is settled when its stamp (identity = device and inode, size, modification time and, where the
 * platform has it, status-change time) has been seen unchanged for the settle window, by this process's own
 * clock; the bytes are read, and the stamp must still be the same after the read. A writer that rewrites the file
 * in place therefore never has a mix of its old and new bytes decide, as long as it finishes within the settle
 * window (every write moves the modification time; a pause longer than the window is not covered). While the
 * stamp keeps changing the request waits and looks again, up to the maximum wait; then it is denied (the file is
 * reported as not settling). The parsed result, error included, is cached by stamp, so the steady state is one
 * {@code stat} per request and no read or parse.
 *
 * <p>Not covered, and the operator's job (see {@code docs/dstack-auth.md}): a writer that pauses longer than the
 * window between writes, and a rewrite that keeps the size and lands within the same timestamp tick as the
 * previous version (the stamp cannot see it; the server then keeps deciding on the previous whole version, which
 * is stale but never torn). Atomic replacement, a temporary file in the same directory renamed over the config,
 * is always safe: the rename changes the identity, and the old inode is never modified.
 */
final class ConfigFile {
    /** Monotonic nanoseconds (injected in tests). */
    interface Ticker {
        long nanos();
    }

    /** Waiting (injected in tests). */
    interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    /** Default settle window. */
    static final Duration DEFAULT_SETTLE = Duration.ofMillis(100);
    /** Bounds of the settle window. */
    static final Duration MIN_SETTLE = Duration.ofMillis(10);
    static final Duration MAX_SETTLE = Duration.ofSeconds(5);
    /** Upper bound of the maximum wait. */
    static final Duration MAX_WAIT_LIMIT = Duration.ofSeconds(60);

    /** What identifies one version of the file without reading it. */
    record Stamp(Object identity, long size, FileTime modified, Object changed) {}

    private final Path path;
    private final long settleNanos;
    private final long maxWaitNanos;
    private final Ticker ticker;
    private final Sleeper sleeper;

    private Stamp cachedStamp;
    private AuthConfig.Loaded cached;
    private Stamp seen;
    private long seenAt;
    private long parses;

    ConfigFile(Path path, Duration settle, Duration maxWait, Ticker ticker, Sleeper sleeper) {
        this.path = Objects.requireNonNull(path);
        this.settleNanos = settle.toNanos();
        this.maxWaitNanos = maxWait.toNanos();
        this.ticker = Objects.requireNonNull(ticker);
        this.sleeper = Objects.requireNonNull(sleeper);
    }

    static ConfigFile system(Path path, Duration settle, Duration maxWait) {
        return new ConfigFile(path, settle, maxWait, System::nanoTime, Thread::sleep);
    }

    /** How many times a version was read and parsed (for tests: the steady state parses nothing). */
    synchronized long parses() {
        return parses;
    }

    /**
     * The config to decide with: the settled file's (cached by stamp), or the defaults with an error when the file
     * is missing, unreadable, invalid, or did not settle within the maximum wait. Never throws. Concurrent
     * requests wait side by side (the lock is never held while sleeping); one of them reads a settled version.
     */
    AuthConfig.Loaded load() {
        long start = ticker.nanos();
        while (true) {
            Stamp s;
            try {
                s = stamp(path);
            } catch (NoSuchFileException e) {
                forget();
                return new AuthConfig.Loaded(AuthConfig.defaults(), "config file not found: " + path, "none");
            } catch (IOException e) {
                forget();
                return new AuthConfig.Loaded(AuthConfig.defaults(), "cannot read config file " + path + ": "
                        + AuthConfig.words(e), "none");
            }
            long stillFor;
            synchronized (this) {
                if (s.equals(cachedStamp)) {
                    return cached;
                }
                long now = ticker.nanos();
                if (!s.equals(seen)) {
                    seen = s;
                    seenAt = now;
                }
                stillFor = now - seenAt;
                if (stillFor >= settleNanos) {
                    AuthConfig.Loaded l = AuthConfig.load(path); // small and bounded: read under the lock, once
                    parses++;
                    Stamp after;
                    try {
                        after = stamp(path);
                    } catch (IOException e) {
                        after = null;
                    }
                    if (s.equals(after)) {
                        cachedStamp = s;
                        cached = l;
                        return l;
                    }
                    seen = after; // changed while it was read: that read decides nothing
                    seenAt = ticker.nanos();
                    stillFor = 0;
                }
            }
            long waited = ticker.nanos() - start;
            if (waited >= maxWaitNanos) {
                return new AuthConfig.Loaded(AuthConfig.defaults(), "config file " + path + " kept changing for "
                        + waited / 1_000_000 + " ms (its identity, size or modification time changed within every "
                        + settleNanos / 1_000_000 + " ms): no decision is made on a file that may be half-written;"
                        + " replace it atomically (write a temporary file in the same directory, then rename it"
                        + " over the config)", "none");
            }
            long sleepNanos = Math.min(settleNanos - stillFor, maxWaitNanos - waited);
            try {
                sleeper.sleep(Math.max(1, (sleepNanos + 999_999) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new AuthConfig.Loaded(AuthConfig.defaults(), "interrupted while waiting for config file "
                        + path + " to settle", "none");
            }
        }
    }

    private synchronized void forget() {
        cachedStamp = null;
        cached = null;
        seen = null;
    }

    /** The file's stamp, following symbolic links (a Kubernetes ConfigMap swap changes the target's identity). */
    static Stamp stamp(Path p) throws IOException {
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino,size,lastModifiedTime,ctime");
            return new Stamp(a.get("dev") + ":" + a.get("ino"), (Long) a.get("size"),
                    (FileTime) a.get("lastModifiedTime"), a.get("ctime"));
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            BasicFileAttributes b = Files.readAttributes(p, BasicFileAttributes.class);
            return new Stamp(b.fileKey(), b.size(), b.lastModifiedTime(), null);
        }
    }
}
