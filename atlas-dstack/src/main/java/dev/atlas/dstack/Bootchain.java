package dev.atlas.dstack;

import java.util.Objects;

/**
 * Expected boot measurements: MRTD (firmware), RTMR0 (virtual hardware/ACPI), RTMR1 (kernel), RTMR2
 * (kernel command line and initrd). Lowercase hex, 48 bytes each. Immutable.
 */
public final class Bootchain {
    private final String mrtd;
    private final String rtmr0;
    private final String rtmr1;
    private final String rtmr2;

    private Bootchain(String mrtd, String rtmr0, String rtmr1, String rtmr2) {
        this.mrtd = Objects.requireNonNull(mrtd, "mrtd");
        this.rtmr0 = Objects.requireNonNull(rtmr0, "rtmr0");
        this.rtmr1 = Objects.requireNonNull(rtmr1, "rtmr1");
        this.rtmr2 = Objects.requireNonNull(rtmr2, "rtmr2");
    }

    /** Values are checked when the policy is built (lowercase hex, 96 characters). */
    public static Bootchain of(String mrtd, String rtmr0, String rtmr1, String rtmr2) {
        return new Bootchain(mrtd, rtmr0, rtmr1, rtmr2);
    }

    public String mrtd() {
        return mrtd;
    }

    public String rtmr0() {
        return rtmr0;
    }

    public String rtmr1() {
        return rtmr1;
    }

    public String rtmr2() {
        return rtmr2;
    }

    /** The value for a policy field name: {@code mrtd}, {@code rtmr0}, {@code rtmr1} or {@code rtmr2}. */
    public String field(String name) {
        switch (name) {
            case "mrtd": return mrtd;
            case "rtmr0": return rtmr0;
            case "rtmr1": return rtmr1;
            case "rtmr2": return rtmr2;
            default: throw new IllegalArgumentException("no bootchain field " + name);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Bootchain && ((Bootchain) o).mrtd.equals(mrtd) && ((Bootchain) o).rtmr0.equals(rtmr0)
                && ((Bootchain) o).rtmr1.equals(rtmr1) && ((Bootchain) o).rtmr2.equals(rtmr2);
    }

    @Override
    public int hashCode() {
        return Objects.hash(mrtd, rtmr0, rtmr1, rtmr2);
    }

    @Override
    public String toString() {
        return "Bootchain{mrtd=" + mrtd + ", rtmr0=" + rtmr0 + ", rtmr1=" + rtmr1 + ", rtmr2=" + rtmr2 + "}";
    }
}
