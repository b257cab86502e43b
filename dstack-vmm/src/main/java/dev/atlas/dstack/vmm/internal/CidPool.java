package dev.atlas.dstack.vmm.internal;

import java.util.Optional;
import java.util.TreeSet;

/**
 * The vsock CID pool over {@code [cid_start, cid_start + cid_pool_size)} (upstream {@code app/id_pool.rs}): hands
 * out the lowest free CID, frees on removal, and re-occupies CIDs at a restart (out-of-range ones are the caller's
 * warning). Not thread-safe: the VM manager holds its lock.
 */
final class CidPool {
    private final long start;
    private final long end;
    private final TreeSet<Long> used = new TreeSet<>();

    CidPool(long start, long size) {
        this.start = start;
        this.end = start + size;
    }

    long start() {
        return start;
    }

    long size() {
        return end - start;
    }

    /** The lowest free CID, now taken; empty when the pool is exhausted. */
    Optional<Long> allocate() {
        long c = start;
        for (Long u : used.tailSet(start)) {
            if (u >= end || u != c) {
                break;
            }
            c++;
        }
        if (c >= end) {
            return Optional.empty();
        }
        used.add(c);
        return Optional.of(c);
    }

    /** Marks {@code cid} taken. Returns null when done, else the reason (outside the range, or already taken). */
    String occupy(long cid) {
        if (cid < start || cid >= end) {
            return "CID " + cid + " outside pool range [" + start + ", " + end + ")";
        }
        if (!used.add(cid)) {
            return "CID " + cid + " already occupied";
        }
        return null;
    }

    void free(long cid) {
        used.remove(cid);
    }

    boolean isUsed(long cid) {
        return used.contains(cid);
    }

    int usedCount() {
        return used.subSet(start, end).size();
    }
}
