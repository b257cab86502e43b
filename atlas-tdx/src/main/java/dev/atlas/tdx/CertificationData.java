package dev.atlas.tdx;

import java.nio.charset.StandardCharsets;

/** Certification data from a quote's signature data: a type and its body. Immutable. */
public final class CertificationData {
    /** PCK leaf certificate chain in PEM (the usual inner type). */
    public static final int TYPE_PCK_CERT_CHAIN = 5;
    /** QE report certification data (the usual outer type in v4/v5 quotes). */
    public static final int TYPE_QE_REPORT_CERTIFICATION_DATA = 6;

    private final int type;
    private final byte[] body;

    CertificationData(int type, byte[] body) {
        this.type = type;
        this.body = body;
    }

    public int type() {
        return type;
    }

    public byte[] body() {
        return body.clone();
    }

    public int bodyLength() {
        return body.length;
    }

    /** The body read as text (for type 5, the PEM chain). */
    public String bodyAsText() {
        return new String(body, StandardCharsets.ISO_8859_1);
    }
}
