package dev.atlas.dstack.gateway.ct;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of one {@link CtMonitor#checkOnce()}.
 *
 * @param status {@link Status#ALARM} while any alarm is outstanding (new or from the state file), else
 *     {@link Status#UNCHECKED} when the check could not complete, else {@link Status#CLEAN}
 * @param alerts the alarms raised by this check (each alarm is raised once; outstanding ones from earlier checks
 *     are counted in {@code outstanding}, not repeated)
 * @param reasons why the check is incomplete or alarming, one line each (the source, the check, the values)
 * @param knownKeys how many keys of {@code /acme-info} verified and matched the expected identity
 * @param entriesChecked how many crt.sh certificates this check compared
 * @param lastChecked the crt.sh cursor after this check (every id up to it was checked)
 * @param outstanding alarms still outstanding after this check (new ones included)
 * @param checkedAt the monitor clock's instant at the start of the check
 */
public record CheckResult(Status status, List<Alert> alerts, List<String> reasons, int knownKeys,
        int entriesChecked, long lastChecked, int outstanding, Instant checkedAt) {
    /** The verdict of a check. */
    public enum Status {
        /** Every certificate in the CT logs carries a key the expected gateway attested. */
        CLEAN,
        /** An alarm is outstanding: a certificate with an unattested key, or a key attested by someone else, or a
         *  quote that does not verify. */
        ALARM,
        /** The check could not complete (gateway, crt.sh, PCCS or verifier unreachable or answering garbage); the
         *  cursor did not move past anything unchecked. */
        UNCHECKED
    }

    public CheckResult {
        Objects.requireNonNull(status, "status");
        alerts = List.copyOf(alerts);
        reasons = List.copyOf(reasons);
        Objects.requireNonNull(checkedAt, "checkedAt");
    }

    /** The {@code --once} exit code: 0 clean, 1 alarm, 2 could not check. */
    public int exitCode() {
        return switch (status) {
            case CLEAN -> 0;
            case ALARM -> 1;
            case UNCHECKED -> 2;
        };
    }
}
