package dev.atlas.dstack.vmm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** §6.3's CID pool: lowest free first, freed on removal, re-occupied at restart, out-of-range refused. */
class CidPoolTest {
    /** Against a model: after any sequence of allocate/free, allocate returns the lowest free CID in range. */
    @Property(tries = 200)
    void allocateIsAlwaysTheLowestFree(@ForAll @IntRange(min = 0, max = 5000) int start,
            @ForAll @IntRange(min = 0, max = 12) int size,
            @ForAll @Size(max = 40) List<@IntRange(min = 0, max = 15) Integer> ops) {
        CidPool pool = new CidPool(start, size);
        TreeSet<Long> model = new TreeSet<>();
        for (int op : ops) {
            if (op < 10) {
                Optional<Long> got = pool.allocate();
                Long expected = null;
                for (long c = start; c < start + size; c++) {
                    if (!model.contains(c)) {
                        expected = c;
                        break;
                    }
                }
                assertEquals(Optional.ofNullable(expected), got);
                got.ifPresent(model::add);
            } else if (!model.isEmpty()) {
                long victim = new ArrayList<>(model).get(op % model.size());
                pool.free(victim);
                model.remove(victim);
            }
            assertEquals(model.size(), pool.usedCount());
        }
    }

    @Property(tries = 100)
    void occupyRefusesOutOfRangeAndTwice(@ForAll @IntRange(min = 10, max = 1000) int start,
            @ForAll @IntRange(min = 1, max = 50) int size, @ForAll @IntRange(min = 0, max = 2000) int cid) {
        CidPool pool = new CidPool(start, size);
        String first = pool.occupy(cid);
        if (cid < start || cid >= start + size) {
            assertNotNull(first);
            assertTrue(first.contains("outside pool range [" + start + ", " + (start + size) + ")"), first);
            assertEquals(0, pool.usedCount());
        } else {
            assertNull(first);
            assertTrue(pool.occupy(cid).contains("already occupied"));
            assertTrue(pool.isUsed(cid));
        }
    }

    @Property(tries = 50)
    void reoccupiedCidsAreSkippedByAllocate(@ForAll @Size(max = 10) List<@IntRange(min = 100, max = 109) Integer> taken) {
        CidPool pool = new CidPool(100, 10);
        TreeSet<Long> t = new TreeSet<>();
        taken.forEach(c -> {
            pool.occupy(c);
            t.add((long) c);
        });
        int free = 10 - t.size();
        for (int i = 0; i < free; i++) {
            long c = pool.allocate().orElseThrow();
            assertTrue(!t.contains(c));
            t.add(c);
        }
        assertEquals(Optional.empty(), pool.allocate());
    }
}
