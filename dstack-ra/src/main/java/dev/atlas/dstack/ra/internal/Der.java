package dev.atlas.dstack.ra.internal;

import dev.atlas.dstack.ra.RaException;
import java.util.Arrays;

/** A strict reader of one DER OCTET STRING: tag 0x04, minimal definite length, nothing after it. */
public final class Der {
    private Der() {}

    /**
     * The content of the DER OCTET STRING that is exactly {@code der}.
     *
     * @param reason the fine reason to throw (for certificate extensions, CERT_EXTENSION_MALFORMED)
     */
    public static byte[] octetString(byte[] der, RaException.Reason reason, String field) throws RaException {
        if (der.length < 2) {
            throw new RaException(reason, field, "not a DER OCTET STRING: " + der.length + " bytes");
        }
        if (der[0] != 0x04) {
            throw new RaException(reason, field, "not a DER OCTET STRING: tag 0x"
                    + Integer.toHexString(der[0] & 0xff));
        }
        int first = der[1] & 0xff;
        long len;
        int header;
        if (first < 0x80) {
            len = first;
            header = 2;
        } else {
            int n = first & 0x7f;
            if (n == 0 || n > 4) {
                throw new RaException(reason, field, "not a DER OCTET STRING: "
                        + (n == 0 ? "indefinite length" : "length of " + n + " bytes"));
            }
            if (der.length < 2 + n) {
                throw new RaException(reason, field, "truncated DER length");
            }
            len = 0;
            for (int i = 0; i < n; i++) {
                len = len << 8 | (der[2 + i] & 0xff);
            }
            if ((der[2] & 0xff) == 0 || len < 0x80) {
                throw new RaException(reason, field, "non-minimal DER length");
            }
            header = 2 + n;
        }
        long end = header + len;
        if (end > der.length) {
            throw new RaException(reason, field, "DER OCTET STRING of " + len + " bytes is truncated ("
                    + (der.length - header) + " present)");
        }
        if (end < der.length) {
            throw new RaException(reason, field, (der.length - end) + " trailing bytes after the DER OCTET STRING");
        }
        return Arrays.copyOfRange(der, header, der.length);
    }
}
