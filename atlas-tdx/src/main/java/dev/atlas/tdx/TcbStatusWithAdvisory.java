package dev.atlas.tdx;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** A TCB status with its advisory IDs. Immutable. */
public final class TcbStatusWithAdvisory {
    private final TcbStatus status;
    private final List<String> advisoryIds;

    public TcbStatusWithAdvisory(TcbStatus status, List<String> advisoryIds) {
        this.status = Objects.requireNonNull(status, "status");
        this.advisoryIds = List.copyOf(advisoryIds);
    }

    public TcbStatus status() {
        return status;
    }

    public List<String> advisoryIds() {
        return advisoryIds;
    }

    /**
     * The reference merge: the more severe status (on a tie this one's), and this one's advisories followed
     * by each of {@code other}'s not already present.
     */
    public TcbStatusWithAdvisory merge(TcbStatusWithAdvisory other) {
        TcbStatus s = other.status.ordinal() > status.ordinal() ? other.status : status;
        List<String> ids = new ArrayList<>(advisoryIds);
        for (String id : other.advisoryIds) {
            if (!ids.contains(id)) {
                ids.add(id);
            }
        }
        return new TcbStatusWithAdvisory(s, ids);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TcbStatusWithAdvisory && ((TcbStatusWithAdvisory) o).status == status
                && ((TcbStatusWithAdvisory) o).advisoryIds.equals(advisoryIds);
    }

    @Override
    public int hashCode() {
        return status.hashCode() * 31 + advisoryIds.hashCode();
    }

    @Override
    public String toString() {
        return status.jsonName() + advisoryIds;
    }
}
