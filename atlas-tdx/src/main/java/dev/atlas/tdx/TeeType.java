package dev.atlas.tdx;

/** The TEE a quote comes from ({@code tee_type} in the quote header). */
public enum TeeType {
    SGX(0x00000000L),
    TDX(0x00000081L);

    private final long code;

    TeeType(long code) {
        this.code = code;
    }

    /** The header value. */
    public long code() {
        return code;
    }
}
