package dev.atlas.tdx;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;
import java.util.List;

/**
 * Intel QE identity (the inner {@code enclaveIdentity} object). Levels stay in JSON order (the reference
 * does not sort them). Immutable.
 */
public final class QeIdentity {
    /** Largest QE identity JSON accepted, in characters. */
    public static final int MAX_CHARS = 1 << 20;

    private final String id;
    private final int version;
    private final String issueDate;
    private final String nextUpdate;
    private final long tcbEvaluationDataNumber;
    private final long miscSelect;
    private final long miscSelectMask;
    private final byte[] attributes;
    private final byte[] attributesMask;
    private final byte[] mrSigner;
    private final int isvProdId;
    private final List<TcbInfo.IsvSvnLevel> tcbLevels;

    private QeIdentity(JsonNode root) {
        String p = "enclaveIdentity";
        Json.object(root, p);
        this.id = Json.string(root, "id", p);
        this.version = (int) Json.integer(root, "version", 0, 255, p);
        this.issueDate = Json.string(root, "issueDate", p);
        this.nextUpdate = Json.string(root, "nextUpdate", p);
        this.tcbEvaluationDataNumber = Json.integer(root, "tcbEvaluationDataNumber", 0, 0xffffffffL, p);
        this.miscSelect = Bytes.u32le(Json.hex(root, "miscselect", 4, p), 0);
        this.miscSelectMask = Bytes.u32le(Json.hex(root, "miscselectMask", 4, p), 0);
        this.attributes = Json.hex(root, "attributes", 16, p);
        this.attributesMask = Json.hex(root, "attributesMask", 16, p);
        this.mrSigner = Json.hex(root, "mrsigner", 32, p);
        this.isvProdId = (int) Json.integer(root, "isvprodid", 0, 0xffff, p);
        this.tcbLevels = TcbInfo.isvSvnLevels(root, 0xffff, p);
    }

    /**
     * Parses the text of an {@code enclaveIdentity} object.
     *
     * @throws AttestationException {@link AttestationException.Reason#MALFORMED_COLLATERAL}
     */
    public static QeIdentity parse(String json) throws AttestationException {
        try {
            return new QeIdentity(Json.parse(json, MAX_CHARS));
        } catch (IllegalArgumentException e) {
            throw new AttestationException(AttestationException.Reason.MALFORMED_COLLATERAL,
                    "Failed to decode QeIdentity: " + e.getMessage(), e);
        }
    }

    public String id() {
        return id;
    }

    public int version() {
        return version;
    }

    public String issueDate() {
        return issueDate;
    }

    public String nextUpdate() {
        return nextUpdate;
    }

    public long tcbEvaluationDataNumber() {
        return tcbEvaluationDataNumber;
    }

    /** MISCSELECT, read little-endian from its 4 hex bytes. */
    public long miscSelect() {
        return miscSelect;
    }

    public long miscSelectMask() {
        return miscSelectMask;
    }

    public String attributes() {
        return Hex.encode(attributes);
    }

    byte[] attributesBytes() {
        return attributes;
    }

    byte[] attributesMaskBytes() {
        return attributesMask;
    }

    public String attributesMask() {
        return Hex.encode(attributesMask);
    }

    public String mrSigner() {
        return Hex.encode(mrSigner);
    }

    byte[] mrSignerBytes() {
        return mrSigner;
    }

    public int isvProdId() {
        return isvProdId;
    }

    /** Levels in JSON order. */
    public List<TcbInfo.IsvSvnLevel> tcbLevels() {
        return tcbLevels;
    }
}
