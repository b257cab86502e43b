package dev.atlas.protocol;

import java.time.Duration;
import java.util.Objects;

/**
 * The argument checks the client's and the server's builders share, so that a timeout or a size limit is
 * refused the same way everywhere.
 */
public final class Checks {
    private Checks() {}

    /**
     * A timeout or TTL usable as a socket timeout: positive and at most {@code Integer.MAX_VALUE} ms.
     *
     * @return {@code d}
     * @throws IllegalArgumentException otherwise
     */
    public static Duration socketTimeout(Duration d) {
        Objects.requireNonNull(d, "duration");
        if (d.isNegative() || d.isZero() || d.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("duration must be positive and at most " + Integer.MAX_VALUE + " ms");
        }
        return d;
    }

    /**
     * A positive duration.
     *
     * @param what names the setting in the message
     * @return {@code d}
     * @throws IllegalArgumentException if zero or negative
     */
    public static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive");
        }
        return d;
    }

    /**
     * A size of at least {@code min}.
     *
     * @param what names the setting in the message
     * @return {@code n}
     * @throws IllegalArgumentException otherwise
     */
    public static int atLeast(int n, int min, String what) {
        if (n < min) {
            throw new IllegalArgumentException(what + " must be at least " + min);
        }
        return n;
    }

    /**
     * A count or size that may be zero.
     *
     * @param what names the setting in the message
     * @return {@code n}
     * @throws IllegalArgumentException if negative
     */
    public static int nonNegative(int n, String what) {
        if (n < 0) {
            throw new IllegalArgumentException(what + " must be >= 0");
        }
        return n;
    }
}
