package dev.atlas.tdx;

import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Hex;

/**
 * A parsed DCAP quote: SGX v3, SGX/TDX v4, or v5 (SGX enclave report, TD report 1.0 or 1.5).
 *
 * <p>Parsing follows Phala's dcap-qvl (see docs/dcap-semantics.md): every length is bounded, running out
 * of input is {@link Reason#MALFORMED_QUOTE}, and bytes after the signature data are ignored (the real
 * Intel TDX sample carries 70 trailing zero bytes); their count is {@link #trailingBytes()}. In v4/v5
 * quotes the outer certification data type is not checked (it is normally 6); its body is always read as
 * QE report certification data. Immutable and thread-safe.
 */
public final class Quote {
    /** Largest quote accepted, in bytes. */
    public static final int MAX_QUOTE_BYTES = 1 << 20;
    /** Largest variable-length field accepted (as the reference: 1 MiB). */
    public static final int MAX_FIELD_BYTES = 1 << 20;

    /** The kind of report in the quote body. */
    public enum BodyType {
        SGX_ENCLAVE(1, EnclaveReport.SIZE),
        TD_REPORT_10(2, TdReport.SIZE_V10),
        TD_REPORT_15(3, TdReport.SIZE_V15);

        private final int code;
        private final int size;

        BodyType(int code, int size) {
            this.code = code;
            this.size = size;
        }

        /** The v5 body-descriptor code. */
        public int code() {
            return code;
        }

        /** The report size in bytes. */
        public int size() {
            return size;
        }
    }

    private final byte[] raw;
    private final QuoteHeader header;
    private final BodyType bodyType;
    private final long bodyDescriptorSize;
    private final EnclaveReport enclaveReport;
    private final TdReport tdReport;
    private final int signedLength;
    private final byte[] quoteSignature;
    private final byte[] attestationKey;
    private final EnclaveReport qeReport;
    private final byte[] qeReportSignature;
    private final byte[] qeAuthData;
    private final int outerCertificationType;
    private final CertificationData certificationData;
    private final int trailingBytes;

    private Quote(byte[] q) throws AttestationException {
        this.raw = q;
        Cursor c = new Cursor(q);
        c.need(QuoteHeader.SIZE);
        this.header = new QuoteHeader(q);
        c.pos = QuoteHeader.SIZE;
        int version = header.version();
        long tee = header.teeTypeCode();
        switch (version) {
            case 3:
                if (tee != TeeType.SGX.code()) {
                    throw decode(Reason.UNSUPPORTED_TEE_TYPE, "Invalid TEE type 0x" + Long.toHexString(tee)
                            + " for a version 3 quote");
                }
                bodyType = BodyType.SGX_ENCLAVE;
                bodyDescriptorSize = -1;
                break;
            case 4:
                if (tee == TeeType.SGX.code()) {
                    bodyType = BodyType.SGX_ENCLAVE;
                } else if (tee == TeeType.TDX.code()) {
                    bodyType = BodyType.TD_REPORT_10;
                } else {
                    throw decode(Reason.UNSUPPORTED_TEE_TYPE, "Invalid TEE type 0x" + Long.toHexString(tee));
                }
                bodyDescriptorSize = -1;
                break;
            case 5: {
                c.need(6);
                int type = Bytes.u16le(q, c.pos);
                bodyDescriptorSize = Bytes.u32le(q, c.pos + 2);
                c.pos += 6;
                if (type == 1) {
                    bodyType = BodyType.SGX_ENCLAVE;
                } else if (type == 2) {
                    bodyType = BodyType.TD_REPORT_10;
                } else if (type == 3) {
                    bodyType = BodyType.TD_REPORT_15;
                } else {
                    throw decode(Reason.MALFORMED_QUOTE, "Unsupported body type " + type);
                }
                break;
            }
            default:
                throw decode(Reason.UNSUPPORTED_VERSION, "Unsupported quote version " + version);
        }
        c.need(bodyType.size());
        if (bodyType == BodyType.SGX_ENCLAVE) {
            enclaveReport = new EnclaveReport(q, c.pos);
            tdReport = null;
        } else {
            enclaveReport = null;
            tdReport = new TdReport(q, c.pos, bodyType == BodyType.TD_REPORT_15);
        }
        c.pos += bodyType.size();
        this.signedLength = c.pos;

        int sigLen = c.u32Field("signature data");
        int sigEnd = c.pos + sigLen;
        Cursor s = new Cursor(q, c.pos, sigEnd);
        this.trailingBytes = q.length - sigEnd;

        this.quoteSignature = s.bytes(64);
        this.attestationKey = s.bytes(64);
        Cursor qe;
        if (version == 3) {
            this.outerCertificationType = -1;
            qe = s;
        } else {
            this.outerCertificationType = s.u16();
            int outerLen = s.u32Field("outer certification data");
            qe = new Cursor(q, s.pos, s.pos + outerLen);
        }
        qe.need(EnclaveReport.SIZE);
        this.qeReport = new EnclaveReport(q, qe.pos);
        qe.pos += EnclaveReport.SIZE;
        this.qeReportSignature = qe.bytes(64);
        int authLen = qe.u16();
        this.qeAuthData = qe.bytes(authLen);
        int certType = qe.u16();
        int certLen = qe.u32Field("certification data");
        this.certificationData = new CertificationData(certType, qe.bytes(certLen));
    }

    /**
     * Parses a quote.
     *
     * @param quote the raw quote bytes; not null
     * @throws AttestationException {@link Reason#MALFORMED_QUOTE}, {@link Reason#UNSUPPORTED_VERSION} or
     *     {@link Reason#UNSUPPORTED_TEE_TYPE}
     */
    public static Quote parse(byte[] quote) throws AttestationException {
        if (quote == null) {
            throw new AttestationException(Reason.MALFORMED_QUOTE, "Failed to decode quote: no bytes");
        }
        if (quote.length > MAX_QUOTE_BYTES) {
            throw new AttestationException(Reason.MALFORMED_QUOTE, "Failed to decode quote: " + quote.length
                    + " bytes exceeds the limit of " + MAX_QUOTE_BYTES);
        }
        return new Quote(quote.clone());
    }

    private static AttestationException decode(Reason r, String detail) {
        return new AttestationException(r, "Failed to decode quote: " + detail);
    }

    /** A bounds-checked reader over {@code [pos, end)}. */
    private static final class Cursor {
        final byte[] b;
        int pos;
        final int end;

        Cursor(byte[] b) {
            this(b, 0, b.length);
        }

        Cursor(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        void need(int n) throws AttestationException {
            if (n < 0 || n > end - pos) {
                throw decode(Reason.MALFORMED_QUOTE, "Not enough data to fill buffer (need " + n + " bytes at offset "
                        + pos + ", " + Math.max(0, end - pos) + " left)");
            }
        }

        byte[] bytes(int n) throws AttestationException {
            need(n);
            byte[] out = Bytes.slice(b, pos, n);
            pos += n;
            return out;
        }

        int u16() throws AttestationException {
            need(2);
            int v = Bytes.u16le(b, pos);
            pos += 2;
            return v;
        }

        int u32Field(String what) throws AttestationException {
            need(4);
            long v = Bytes.u32le(b, pos);
            pos += 4;
            if (v > MAX_FIELD_BYTES) {
                throw decode(Reason.MALFORMED_QUOTE, "Data length exceeds maximum: " + what + " length " + v
                        + " > " + MAX_FIELD_BYTES);
            }
            need((int) v);
            return (int) v;
        }
    }

    /** The raw quote bytes (a copy). */
    public byte[] toByteArray() {
        return raw.clone();
    }

    byte[] rawUnsafe() {
        return raw;
    }

    public QuoteHeader header() {
        return header;
    }

    public BodyType bodyType() {
        return bodyType;
    }

    /** The v5 body descriptor's size field (not checked, as in the reference); -1 for v3/v4. */
    public long bodyDescriptorSize() {
        return bodyDescriptorSize;
    }

    /** The TD report, or null for an SGX quote. */
    public TdReport tdReport() {
        return tdReport;
    }

    /** The enclave report, or null for a TDX quote. */
    public EnclaveReport enclaveReport() {
        return enclaveReport;
    }

    /** The report data of the body (TD or enclave report) as lowercase hex. */
    public String reportData() {
        return tdReport != null ? tdReport.reportData() : enclaveReport.reportData();
    }

    /** Number of leading bytes covered by the quote signature. */
    public int signedLength() {
        return signedLength;
    }

    public byte[] quoteSignature() {
        return quoteSignature.clone();
    }

    /** The attestation public key, raw {@code x||y} (64 bytes). */
    public byte[] attestationKey() {
        return attestationKey.clone();
    }

    public EnclaveReport qeReport() {
        return qeReport;
    }

    public byte[] qeReportSignature() {
        return qeReportSignature.clone();
    }

    public byte[] qeAuthData() {
        return qeAuthData.clone();
    }

    /** The outer certification data type of a v4/v5 quote (normally 6), or -1 for v3. */
    public int outerCertificationType() {
        return outerCertificationType;
    }

    /** The (inner) certification data: for type 5, the PCK certificate chain. */
    public CertificationData certificationData() {
        return certificationData;
    }

    /** Bytes after the signature data (ignored). */
    public int trailingBytes() {
        return trailingBytes;
    }

    byte[] quoteSignatureUnsafe() {
        return quoteSignature;
    }

    byte[] attestationKeyUnsafe() {
        return attestationKey;
    }

    byte[] qeReportSignatureUnsafe() {
        return qeReportSignature;
    }

    byte[] qeAuthDataUnsafe() {
        return qeAuthData;
    }

    @Override
    public String toString() {
        return "Quote{version=" + header.version() + ", tee=" + header.teeType() + ", body=" + bodyType + ", "
                + raw.length + " bytes}";
    }

    /** Hex of the QE report's report data, for diagnostics. */
    String qeReportDataHex() {
        return Hex.encode(qeReport.reportDataBytes());
    }
}
