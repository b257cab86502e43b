package dev.atlas.tdx;

import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Hex;

/** The 48-byte quote header. Immutable. */
public final class QuoteHeader {
    /** Intel's QE vendor ID. */
    public static final String INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";
    /** Size of the header in bytes. */
    public static final int SIZE = 48;

    private final int version;
    private final int attestationKeyType;
    private final long teeType;
    private final int qeSvn;
    private final int pceSvn;
    private final byte[] qeVendorId;
    private final byte[] userData;

    QuoteHeader(byte[] q) {
        this.version = Bytes.u16le(q, 0);
        this.attestationKeyType = Bytes.u16le(q, 2);
        this.teeType = Bytes.u32le(q, 4);
        this.qeSvn = Bytes.u16le(q, 8);
        this.pceSvn = Bytes.u16le(q, 10);
        this.qeVendorId = Bytes.slice(q, 12, 16);
        this.userData = Bytes.slice(q, 28, 20);
    }

    public int version() {
        return version;
    }

    public int attestationKeyType() {
        return attestationKeyType;
    }

    /** The raw TEE type value ({@code 0} SGX, {@code 0x81} TDX). */
    public long teeTypeCode() {
        return teeType;
    }

    /** The TEE type, or null for a value that is neither SGX nor TDX. */
    public TeeType teeType() {
        if (teeType == TeeType.SGX.code()) {
            return TeeType.SGX;
        }
        if (teeType == TeeType.TDX.code()) {
            return TeeType.TDX;
        }
        return null;
    }

    public int qeSvn() {
        return qeSvn;
    }

    public int pceSvn() {
        return pceSvn;
    }

    public String qeVendorId() {
        return Hex.encode(qeVendorId);
    }

    public String userData() {
        return Hex.encode(userData);
    }

    /** The QE-ID: the first 16 bytes of {@code user_data}. */
    public String qeId() {
        return Hex.encode(userData, 0, 16);
    }

    @Override
    public String toString() {
        return "QuoteHeader{version=" + version + ", attestationKeyType=" + attestationKeyType + ", teeType=0x"
                + Long.toHexString(teeType) + ", qeVendorId=" + qeVendorId() + "}";
    }
}
