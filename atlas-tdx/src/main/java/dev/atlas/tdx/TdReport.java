package dev.atlas.tdx;

import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Hex;

/**
 * A TD report: version 1.0 (584 bytes) or 1.5 (648 bytes, adds {@code tee_tcb_svn2} and
 * {@code mr_service_td}). Immutable; measurements are lowercase hex, byte accessors return copies.
 */
public final class TdReport {
    /** Size of a TD report 1.0. */
    public static final int SIZE_V10 = 584;
    /** Size of a TD report 1.5. */
    public static final int SIZE_V15 = 648;

    private final byte[] raw;

    TdReport(byte[] src, int off, boolean v15) {
        this.raw = Bytes.slice(src, off, v15 ? SIZE_V15 : SIZE_V10);
    }

    /** True for a TD report 1.5. */
    public boolean isV15() {
        return raw.length == SIZE_V15;
    }

    /** The raw bytes (a copy). */
    public byte[] toByteArray() {
        return raw.clone();
    }

    public String teeTcbSvn() {
        return Hex.encode(raw, 0, 16);
    }

    public byte[] teeTcbSvnBytes() {
        return Bytes.slice(raw, 0, 16);
    }

    public String mrSeam() {
        return Hex.encode(raw, 16, 48);
    }

    public String mrSignerSeam() {
        return Hex.encode(raw, 64, 48);
    }

    public byte[] mrSignerSeamBytes() {
        return Bytes.slice(raw, 64, 48);
    }

    public String seamAttributes() {
        return Hex.encode(raw, 112, 8);
    }

    public byte[] seamAttributesBytes() {
        return Bytes.slice(raw, 112, 8);
    }

    public String tdAttributes() {
        return Hex.encode(raw, 120, 8);
    }

    public byte[] tdAttributesBytes() {
        return Bytes.slice(raw, 120, 8);
    }

    /** True when TUD.DEBUG (td_attributes bit 0) is set. */
    public boolean isDebug() {
        return (raw[120] & 0x01) != 0;
    }

    public String xfam() {
        return Hex.encode(raw, 128, 8);
    }

    public String mrTd() {
        return Hex.encode(raw, 136, 48);
    }

    public String mrConfigId() {
        return Hex.encode(raw, 184, 48);
    }

    public String mrOwner() {
        return Hex.encode(raw, 232, 48);
    }

    public String mrOwnerConfig() {
        return Hex.encode(raw, 280, 48);
    }

    /** RTMR {@code index} (0..3) as lowercase hex. */
    public String rtmr(int index) {
        if (index < 0 || index > 3) {
            throw new IllegalArgumentException("RTMR index must be 0..3, got " + index);
        }
        return Hex.encode(raw, 328 + 48 * index, 48);
    }

    public byte[] rtmrBytes(int index) {
        if (index < 0 || index > 3) {
            throw new IllegalArgumentException("RTMR index must be 0..3, got " + index);
        }
        return Bytes.slice(raw, 328 + 48 * index, 48);
    }

    public String reportData() {
        return Hex.encode(raw, 520, 64);
    }

    public byte[] reportDataBytes() {
        return Bytes.slice(raw, 520, 64);
    }

    /** {@code tee_tcb_svn2} of a TD 1.5 report; null for TD 1.0. */
    public String teeTcbSvn2() {
        return isV15() ? Hex.encode(raw, 584, 16) : null;
    }

    /** {@code mr_service_td} of a TD 1.5 report; null for TD 1.0. */
    public String mrServiceTd() {
        return isV15() ? Hex.encode(raw, 600, 48) : null;
    }

    boolean mrServiceTdIsZero() {
        return !isV15() || Bytes.allZero(Bytes.slice(raw, 600, 48));
    }

    @Override
    public String toString() {
        return "TdReport{" + (isV15() ? "1.5" : "1.0") + ", mrTd=" + mrTd() + ", rtmr0=" + rtmr(0) + ", rtmr1="
                + rtmr(1) + ", rtmr2=" + rtmr(2) + ", rtmr3=" + rtmr(3) + "}";
    }
}
