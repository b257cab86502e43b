package dev.atlas.tdx;

import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Hex;

/**
 * An SGX enclave report (384 bytes): the body of SGX quotes and the QE report inside every quote.
 * Immutable; byte accessors return copies.
 */
public final class EnclaveReport {
    /** Size in bytes. */
    public static final int SIZE = 384;

    private final byte[] raw;

    EnclaveReport(byte[] src, int off) {
        this.raw = Bytes.slice(src, off, SIZE);
    }

    /** The 384 raw bytes (a copy). */
    public byte[] toByteArray() {
        return raw.clone();
    }

    public String cpuSvn() {
        return Hex.encode(raw, 0, 16);
    }

    public long miscSelect() {
        return Bytes.u32le(raw, 16);
    }

    public String attributes() {
        return Hex.encode(raw, 48, 16);
    }

    public byte[] attributesBytes() {
        return Bytes.slice(raw, 48, 16);
    }

    public String mrEnclave() {
        return Hex.encode(raw, 64, 32);
    }

    public String mrSigner() {
        return Hex.encode(raw, 128, 32);
    }

    public byte[] mrSignerBytes() {
        return Bytes.slice(raw, 128, 32);
    }

    public int isvProdId() {
        return Bytes.u16le(raw, 256);
    }

    public int isvSvn() {
        return Bytes.u16le(raw, 258);
    }

    public String reportData() {
        return Hex.encode(raw, 320, 64);
    }

    public byte[] reportDataBytes() {
        return Bytes.slice(raw, 320, 64);
    }

    /** True when the DEBUG attribute (byte 0, bit 1) is set. */
    public boolean isDebug() {
        return (raw[48] & 0x02) != 0;
    }

    @Override
    public String toString() {
        return "EnclaveReport{mrEnclave=" + mrEnclave() + ", mrSigner=" + mrSigner() + ", isvProdId=" + isvProdId()
                + ", isvSvn=" + isvSvn() + "}";
    }
}
