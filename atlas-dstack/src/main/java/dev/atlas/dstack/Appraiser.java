package dev.atlas.dstack;

import dev.atlas.tdx.AttestationException;
import java.time.Instant;
import java.util.List;

/**
 * Appraisal: "is this the workload I want?", asked of evidence that {@link DstackTdxVerifier} has already found
 * genuine, consistent and bound to the session (integrity). {@link DstackTdxPolicy} is the Atlas appraiser (TCB
 * statuses, grace period, bootchain, compose hash, OS image hash); other consumers (a KMS, a gateway) implement
 * their own, e.g. by asking an auth webhook. Implementations must be thread-safe.
 */
@FunctionalInterface
public interface Appraiser {
    /**
     * Accepts (returns) or rejects (throws) the integrity-checked {@code report}, at {@code now} (the instant
     * integrity was checked at).
     *
     * @throws AttestationException naming the first requirement the report does not meet
     */
    void appraise(AttestationReport report, Instant now) throws AttestationException;

    /** One line for reports: what this appraiser enforced. */
    default String summary() {
        return getClass().getName();
    }

    /** Things a reviewer should know about this appraiser (empty if none). */
    default List<String> warnings() {
        return List.of();
    }

    /**
     * True when this appraiser checks the workload's measurements (bootchain, compose hash, OS image); the report
     * then says {@code runtime_verified}. False by default, so a report never claims more than was checked.
     */
    default boolean verifiesRuntime() {
        return false;
    }
}
