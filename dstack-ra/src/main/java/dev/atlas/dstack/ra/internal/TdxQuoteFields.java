package dev.atlas.dstack.ra.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.util.Arrays;

/**
 * The TD report registers of a TDX quote (v4: body at 48; v5: 2-byte body type and 4-byte size at 48, body
 * at 54, TD 1.0 or 1.5 — the 1.0 fields come first in both). No signature is checked here.
 */
public final class TdxQuoteFields {
    public final byte[] mrTd;
    public final byte[] mrConfigId;
    public final byte[] mrOwner;
    public final byte[] mrOwnerConfig;
    public final byte[][] rtmr = new byte[4][];
    public final byte[] reportData;

    private static final int TD10_BODY = 584;

    private TdxQuoteFields(byte[] q, int body) {
        mrTd = Arrays.copyOfRange(q, body + 136, body + 184);
        mrConfigId = Arrays.copyOfRange(q, body + 184, body + 232);
        mrOwner = Arrays.copyOfRange(q, body + 232, body + 280);
        mrOwnerConfig = Arrays.copyOfRange(q, body + 280, body + 328);
        for (int i = 0; i < 4; i++) {
            rtmr[i] = Arrays.copyOfRange(q, body + 328 + 48 * i, body + 376 + 48 * i);
        }
        reportData = Arrays.copyOfRange(q, body + 520, body + 584);
    }

    public static TdxQuoteFields parse(byte[] q) throws RaException {
        if (q.length < 48 + TD10_BODY) {
            throw new RaException(Reason.BAD_QUOTE, "quote", q.length + " bytes is shorter than a TD quote");
        }
        int version = (q[0] & 0xff) | (q[1] & 0xff) << 8;
        long teeType = (q[4] & 0xffL) | (q[5] & 0xffL) << 8 | (q[6] & 0xffL) << 16 | (q[7] & 0xffL) << 24;
        if (teeType != 0x81) {
            throw new RaException(Reason.BAD_QUOTE, "quote", "TEE type 0x" + Long.toHexString(teeType) + " is not TDX");
        }
        if (version == 4) {
            return new TdxQuoteFields(q, 48);
        }
        if (version == 5) {
            int bodyType = (q[48] & 0xff) | (q[49] & 0xff) << 8;
            if (bodyType != 2 && bodyType != 3) {
                throw new RaException(Reason.BAD_QUOTE, "quote", "v5 body type " + bodyType + " is not a TD report");
            }
            if (q.length < 54 + TD10_BODY) {
                throw new RaException(Reason.BAD_QUOTE, "quote", "v5 quote too short");
            }
            return new TdxQuoteFields(q, 54);
        }
        throw new RaException(Reason.BAD_QUOTE, "quote", "quote version " + version);
    }
}
