package dev.atlas.tdx;

/**
 * A TCB status as Intel's TCB info and QE identity name it, in increasing severity (the order the
 * reference uses to merge statuses: the more severe wins).
 */
public enum TcbStatus {
    UP_TO_DATE("UpToDate"),
    SW_HARDENING_NEEDED("SWHardeningNeeded"),
    CONFIGURATION_NEEDED("ConfigurationNeeded"),
    CONFIGURATION_AND_SW_HARDENING_NEEDED("ConfigurationAndSWHardeningNeeded"),
    OUT_OF_DATE("OutOfDate"),
    OUT_OF_DATE_CONFIGURATION_NEEDED("OutOfDateConfigurationNeeded"),
    REVOKED("Revoked");

    private final String jsonName;

    TcbStatus(String jsonName) {
        this.jsonName = jsonName;
    }

    /** The name used in Intel's JSON and in reports, e.g. {@code UpToDate}. */
    public String jsonName() {
        return jsonName;
    }

    /** Parses Intel's spelling (exact, case-sensitive). */
    public static TcbStatus fromJsonName(String name) {
        for (TcbStatus s : values()) {
            if (s.jsonName.equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown TCB status `" + name + "`");
    }

    @Override
    public String toString() {
        return jsonName;
    }
}
