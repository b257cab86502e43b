package dev.atlas.tdx;

import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Der;
import dev.atlas.tdx.internal.Hex;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Intel's SGX extension of a PCK certificate (OID {@code 1.2.840.113741.1.13.1}), read with a strict DER
 * reader. Immutable.
 */
public final class PckExtension {
    /** The extension OID. */
    public static final String OID = "1.2.840.113741.1.13.1";
    private static final byte[] BASE = {0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf8, 0x4d, 0x01, 0x0d, 0x01};

    private final byte[] ppid;
    private final byte[] cpuSvn;
    private final int pceSvn;
    private final byte[] pceId;
    private final byte[] fmspc;
    private final int sgxType;

    private PckExtension(byte[] ppid, byte[] cpuSvn, int pceSvn, byte[] pceId, byte[] fmspc, int sgxType) {
        this.ppid = ppid;
        this.cpuSvn = cpuSvn;
        this.pceSvn = pceSvn;
        this.pceId = pceId;
        this.fmspc = fmspc;
        this.sgxType = sgxType;
    }

    /**
     * Reads the extension from a PCK leaf certificate.
     *
     * @throws AttestationException {@link Reason#PCK_EXTENSION_INVALID}
     */
    public static PckExtension fromCertificate(X509Certificate cert) throws AttestationException {
        byte[] ext = cert.getExtensionValue(OID);
        if (ext == null) {
            throw invalid("Intel extension not found");
        }
        try {
            Der.Tlv wrapper = Der.readSingle(ext);
            if (wrapper.tag != Der.TAG_OCTET_STRING) {
                throw invalid("extension value is not an OCTET STRING");
            }
            return parse(wrapper.content());
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.PCK_EXTENSION_INVALID, "Intel extension: " + e.getMessage(), e);
        }
    }

    /** Parses the extension's DER value (the SEQUENCE inside the OCTET STRING). */
    public static PckExtension parse(byte[] der) throws AttestationException {
        try {
            Der.Tlv seq = Der.readSingle(der);
            if (seq.tag != Der.TAG_SEQUENCE) {
                throw invalid("extension is not a SEQUENCE");
            }
            List<Der.Tlv> top = seq.children();
            byte[] ppid = find(top, oid(1), "PPID", Der.TAG_OCTET_STRING).content();
            Der.Tlv tcb = find(top, oid(2), "TCB", Der.TAG_SEQUENCE);
            List<Der.Tlv> tcbEntries = tcb.children();
            Der.Tlv pce = find(tcbEntries, oid(2, 17), "TCB/PCESVN", Der.TAG_INTEGER);
            if (pce.contentLength < 1 || pce.contentLength > 2) {
                throw invalid("PceSvn length mismatch (" + pce.contentLength + " octets)");
            }
            byte[] pv = pce.content();
            int pceSvn = pv.length == 1 ? (pv[0] & 0xff) : ((pv[0] & 0xff) << 8) | (pv[1] & 0xff);
            byte[] cpuSvn = find(tcbEntries, oid(2, 18), "TCB/CPUSVN", Der.TAG_OCTET_STRING).content();
            if (cpuSvn.length != 16) {
                throw invalid("CpuSvn length mismatch (" + cpuSvn.length + " bytes)");
            }
            byte[] pceId = find(top, oid(3), "PCE-ID", Der.TAG_OCTET_STRING).content();
            byte[] fmspc = find(top, oid(4), "FMSPC", Der.TAG_OCTET_STRING).content();
            if (fmspc.length != 6) {
                throw invalid("Fmspc length mismatch (" + fmspc.length + " bytes)");
            }
            Der.Tlv type = find(top, oid(5), "SGX Type", Der.TAG_ENUMERATED);
            if (type.contentLength != 1) {
                throw invalid("Unexpected ENUMERATED length " + type.contentLength);
            }
            return new PckExtension(ppid, cpuSvn, pceSvn, pceId, fmspc, type.content()[0] & 0xff);
        } catch (IllegalArgumentException e) {
            throw new AttestationException(Reason.PCK_EXTENSION_INVALID, "Intel extension: " + e.getMessage(), e);
        }
    }

    private static byte[] oid(int... suffix) {
        byte[] out = new byte[BASE.length + suffix.length];
        System.arraycopy(BASE, 0, out, 0, BASE.length);
        for (int i = 0; i < suffix.length; i++) {
            out[BASE.length + i] = (byte) suffix[i];
        }
        return out;
    }

    private static Der.Tlv find(List<Der.Tlv> entries, byte[] oid, String name, int expectedTag)
            throws AttestationException {
        Der.Tlv found = null;
        for (Der.Tlv e : entries) {
            if (e.tag != Der.TAG_SEQUENCE) {
                throw invalid("entry is not a SEQUENCE");
            }
            List<Der.Tlv> kv = e.children();
            if (kv.size() != 2 || kv.get(0).tag != Der.TAG_OID) {
                throw invalid("entry is not SEQUENCE { OID, value }");
            }
            if (kv.get(0).contentEquals(oid)) {
                if (found != null) {
                    throw invalid("extension " + name + " appears more than once");
                }
                found = kv.get(1);
            }
        }
        if (found == null) {
            throw invalid("Intel extension path [" + name + "] is missing");
        }
        if (found.tag != expectedTag) {
            throw invalid(name + " has DER tag 0x" + Integer.toHexString(found.tag) + ", expected 0x"
                    + Integer.toHexString(expectedTag));
        }
        return found;
    }

    private static AttestationException invalid(String msg) {
        return new AttestationException(Reason.PCK_EXTENSION_INVALID, msg);
    }

    public String ppid() {
        return Hex.encode(ppid);
    }

    public String cpuSvn() {
        return Hex.encode(cpuSvn);
    }

    byte[] cpuSvnBytes() {
        return cpuSvn;
    }

    public int pceSvn() {
        return pceSvn;
    }

    public String pceId() {
        return Hex.encodeUpper(pceId);
    }

    /** FMSPC as uppercase hex (as used in PCS URLs). */
    public String fmspc() {
        return Hex.encodeUpper(fmspc);
    }

    byte[] fmspcBytes() {
        return fmspc;
    }

    /** SGX type: 0 standard, 1 scalable, 2 scalable with integrity. */
    public int sgxType() {
        return sgxType;
    }
}
