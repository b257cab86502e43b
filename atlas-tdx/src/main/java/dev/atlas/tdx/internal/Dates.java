package dev.atlas.tdx.internal;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;

/** The one parser for Intel's RFC 3339 collateral dates (issueDate, nextUpdate, tcbDate). */
public final class Dates {
    private Dates() {}

    /**
     * Epoch seconds of an RFC 3339 date.
     *
     * @throws AttestationException {@link Reason#MALFORMED_COLLATERAL} with {@code msg} and the text
     */
    public static long epochSeconds(String s, String msg) throws AttestationException {
        try {
            return OffsetDateTime.parse(s).toEpochSecond();
        } catch (DateTimeParseException | NullPointerException e) {
            throw new AttestationException(Reason.MALFORMED_COLLATERAL, msg + ": `" + s + "`", e);
        }
    }
}
