package dev.atlas.tdx.internal;

import java.time.Duration;

/** Argument checks shared by builders (one message shape for every duration and size). Not public API. */
public final class Checks {
    private Checks() {}

    /** {@code d}, if it is non-null and greater than zero; otherwise {@code IllegalArgumentException("name must be positive")}. */
    public static Duration positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive");
        }
        return d;
    }

    /** {@code n}, if it is greater than zero; otherwise {@code IllegalArgumentException("name must be > 0")}. */
    public static int positive(int n, String name) {
        if (n <= 0) {
            throw new IllegalArgumentException(name + " must be > 0");
        }
        return n;
    }
}
