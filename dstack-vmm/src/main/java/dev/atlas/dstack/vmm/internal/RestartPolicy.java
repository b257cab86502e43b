package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.vmm.VmmConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The automatic-restart bookkeeping of one VM ({@code [cvm.auto_restart]}), as upstream's {@code AutoRestartState}
 * ({@code vmm/src/app.rs}): the first exit schedules a retry after {@code initial_backoff}; each retry doubles the
 * delay up to {@code max_backoff}; after {@code max_retries} retries the VM stays down and this is reported once; a
 * VM that stays up for {@code reset_window} gets its full budget back. Not thread-safe (the backend locks per VM);
 * time is passed in.
 */
public final class RestartPolicy {
    /** What to do after an observation. */
    public sealed interface Decision {
        /** Nothing now (a retry is due later, or the budget is exhausted and was already reported). */
        record Wait(Instant until) implements Decision {}
        /** The first exit: a retry is scheduled after {@code delay}. */
        record Scheduled(Duration delay) implements Decision {}
        /** Restart now; {@code attempt} counts from 1; the next retry is not before {@code nextDelay}. */
        record Restart(int attempt, Duration nextDelay) implements Decision {}
        /** The budget is used up (reported once): {@code attempts} restarts failed. */
        record Exhausted(int attempts) implements Decision {}
    }

    private final VmmConfig.AutoRestart config;
    private int attempts;
    private Instant nextRetry;
    private Instant healthySince;
    private boolean exhaustedReported;

    public RestartPolicy(VmmConfig.AutoRestart config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /** Forget everything (a manual start or stop). */
    public void reset() {
        attempts = 0;
        nextRetry = null;
        healthySince = null;
        exhaustedReported = false;
    }

    public int attempts() {
        return attempts;
    }

    /** The VM was seen running at {@code now}; true when this restored the retry budget. */
    public boolean observeRunning(Instant now) {
        if (healthySince == null) {
            healthySince = now;
        }
        if (attempts > 0 && Duration.between(healthySince, now).compareTo(config.resetWindow()) >= 0) {
            reset();
            return true;
        }
        return false;
    }

    /** The VM was seen exited at {@code now}. */
    public Decision observeExited(Instant now) {
        healthySince = null;
        if (attempts >= config.maxRetries()) {
            if (exhaustedReported) {
                return new Decision.Wait(Instant.MAX);
            }
            exhaustedReported = true;
            return new Decision.Exhausted(attempts);
        }
        if (nextRetry == null) {
            nextRetry = now.plus(config.initialBackoff());
            return new Decision.Scheduled(config.initialBackoff());
        }
        if (now.isBefore(nextRetry)) {
            return new Decision.Wait(nextRetry);
        }
        attempts++;
        Duration delay = config.initialBackoff();
        for (int i = 0; i < Math.min(attempts, 62) && delay.compareTo(config.maxBackoff()) < 0; i++) {
            delay = delay.multipliedBy(2);
        }
        if (delay.compareTo(config.maxBackoff()) > 0) {
            delay = config.maxBackoff();
        }
        nextRetry = now.plus(delay);
        return new Decision.Restart(attempts, delay);
    }
}
