package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Curves;
import java.math.BigInteger;
import java.util.Arrays;

/**
 * A 65-byte recoverable secp256k1 signature {@code r(32) ‖ s(32) ‖ recid(1)} as k256 writes it. Parsing
 * accepts recovery ids 0–3 and, like dstack's Go SDK, the Ethereum form 27–30 (normalised to 0–3).
 */
public final class RecoverableSignature {
    public static final int LENGTH = 65;

    private final byte[] bytes;

    private RecoverableSignature(byte[] bytes) {
        this.bytes = bytes;
    }

    public static RecoverableSignature of(byte[] bytes) throws RaException {
        if (bytes == null || bytes.length != LENGTH) {
            throw new RaException(Reason.SIGNATURE_MALFORMED, "signature",
                    "must be 65 bytes, got " + (bytes == null ? "null" : bytes.length));
        }
        byte[] b = bytes.clone();
        int v = b[64] & 0xff;
        if (v >= 27 && v <= 30) {
            v -= 27;
        }
        if (v > 3) {
            throw new RaException(Reason.SIGNATURE_MALFORMED, "signature", "recovery id " + (b[64] & 0xff));
        }
        b[64] = (byte) v;
        BigInteger n = Curves.K256.getN();
        if (!Curves.inRange(new BigInteger(1, Arrays.copyOfRange(b, 0, 32)), n)
                || !Curves.inRange(new BigInteger(1, Arrays.copyOfRange(b, 32, 64)), n)) {
            throw new RaException(Reason.SIGNATURE_MALFORMED, "signature", "r or s is not in [1, n-1]");
        }
        return new RecoverableSignature(b);
    }

    static RecoverableSignature of(BigInteger r, BigInteger s, int recid) {
        return new RecoverableSignature(Bytes.concat(Bytes.fixed(r, 32), Bytes.fixed(s, 32), new byte[] {(byte) recid}));
    }

    public BigInteger r() {
        return new BigInteger(1, Arrays.copyOfRange(bytes, 0, 32));
    }

    public BigInteger s() {
        return new BigInteger(1, Arrays.copyOfRange(bytes, 32, 64));
    }

    public int recoveryId() {
        return bytes[64];
    }

    /** True when {@code s <= n/2} (k256 always signs low-S). */
    public boolean isLowS() {
        return s().compareTo(Curves.K256_HALF_N) <= 0;
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    public String toHex() {
        return Bytes.HEX.formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecoverableSignature && Arrays.equals(bytes, ((RecoverableSignature) o).bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "RecoverableSignature[" + toHex() + "]";
    }
}
