package dev.atlas.tdx;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * Intel TCB info (the inner {@code tcbInfo} object, v3), parsed with the reference's field rules: unknown
 * fields ignored, {@code id} required, strict integer ranges, known TCB status names only. Dates are kept
 * as text and interpreted by the verifier at their step. Immutable.
 */
public final class TcbInfo {
    /** Largest TCB info JSON accepted, in characters. */
    public static final int MAX_CHARS = 1 << 20;

    private final String id;
    private final int version;
    private final String issueDate;
    private final String nextUpdate;
    private final byte[] fmspc;
    private final String pceId;
    private final long tcbType;
    private final long tcbEvaluationDataNumber;
    private final List<TcbLevel> tcbLevels;
    private final TdxModule tdxModule;
    private final List<TdxModuleIdentity> tdxModuleIdentities;

    /** One platform TCB level. */
    public static final class TcbLevel {
        private final int[] sgxComponents;
        private final int[] tdxComponents;
        private final int pceSvn;
        private final String tcbDate;
        private final TcbStatusWithAdvisory status;

        TcbLevel(int[] sgx, int[] tdx, int pceSvn, String tcbDate, TcbStatusWithAdvisory status) {
            this.sgxComponents = sgx;
            this.tdxComponents = tdx;
            this.pceSvn = pceSvn;
            this.tcbDate = tcbDate;
            this.status = status;
        }

        public int[] sgxComponents() {
            return sgxComponents.clone();
        }

        public int[] tdxComponents() {
            return tdxComponents.clone();
        }

        int sgx(int i) {
            return sgxComponents[i];
        }

        int tdx(int i) {
            return tdxComponents[i];
        }

        int sgxCount() {
            return sgxComponents.length;
        }

        int tdxCount() {
            return tdxComponents.length;
        }

        public int pceSvn() {
            return pceSvn;
        }

        public String tcbDate() {
            return tcbDate;
        }

        public TcbStatusWithAdvisory status() {
            return status;
        }
    }

    /** The {@code tdxModule} object. */
    public static final class TdxModule {
        final byte[] mrSigner;
        final byte[] attributes;
        final byte[] attributesMask;

        TdxModule(byte[] mrSigner, byte[] attributes, byte[] attributesMask) {
            this.mrSigner = mrSigner;
            this.attributes = attributes;
            this.attributesMask = attributesMask;
        }

        public String mrSigner() {
            return Hex.encode(mrSigner);
        }

        public String attributes() {
            return Hex.encode(attributes);
        }

        public String attributesMask() {
            return Hex.encode(attributesMask);
        }
    }

    /** One {@code tdxModuleIdentities} entry with its own ISVSVN levels. */
    public static final class TdxModuleIdentity {
        private final String id;
        final TdxModule module;
        private final List<IsvSvnLevel> tcbLevels;

        TdxModuleIdentity(String id, TdxModule module, List<IsvSvnLevel> tcbLevels) {
            this.id = id;
            this.module = module;
            this.tcbLevels = tcbLevels;
        }

        public String id() {
            return id;
        }

        public TdxModule module() {
            return module;
        }

        public List<IsvSvnLevel> tcbLevels() {
            return tcbLevels;
        }
    }

    /** A TCB level keyed by a single ISVSVN (QE identity and TDX module identities). */
    public static final class IsvSvnLevel {
        private final int isvSvn;
        private final String tcbDate;
        private final TcbStatusWithAdvisory status;

        IsvSvnLevel(int isvSvn, String tcbDate, TcbStatusWithAdvisory status) {
            this.isvSvn = isvSvn;
            this.tcbDate = tcbDate;
            this.status = status;
        }

        public int isvSvn() {
            return isvSvn;
        }

        public String tcbDate() {
            return tcbDate;
        }

        public TcbStatusWithAdvisory status() {
            return status;
        }
    }

    private TcbInfo(JsonNode root) {
        String p = "tcbInfo";
        Json.object(root, p);
        this.id = Json.string(root, "id", p);
        this.version = (int) Json.integer(root, "version", 0, 255, p);
        this.issueDate = Json.string(root, "issueDate", p);
        this.nextUpdate = Json.string(root, "nextUpdate", p);
        this.fmspc = hexAny(Json.string(root, "fmspc", p), p + ".fmspc");
        this.pceId = Json.string(root, "pceId", p);
        this.tcbType = Json.integer(root, "tcbType", 0, 0xffffffffL, p);
        this.tcbEvaluationDataNumber = Json.integer(root, "tcbEvaluationDataNumber", 0, 0xffffffffL, p);
        List<TcbLevel> levels = new ArrayList<>();
        int i = 0;
        for (JsonNode l : Json.array(root, "tcbLevels", true, p)) {
            levels.add(level(l, p + ".tcbLevels[" + i++ + "]"));
        }
        this.tcbLevels = List.copyOf(levels);
        JsonNode m = root.get("tdxModule");
        this.tdxModule = (m == null || m.isNull()) ? null : module(m, p + ".tdxModule");
        List<TdxModuleIdentity> ids = new ArrayList<>();
        i = 0;
        for (JsonNode n : Json.array(root, "tdxModuleIdentities", false, p)) {
            String ip = p + ".tdxModuleIdentities[" + i++ + "]";
            Json.object(n, ip);
            ids.add(new TdxModuleIdentity(Json.string(n, "id", ip), module(n, ip), isvSvnLevels(n, 255, ip)));
        }
        this.tdxModuleIdentities = List.copyOf(ids);
    }

    /**
     * Parses the text of a {@code tcbInfo} object.
     *
     * @throws AttestationException {@link AttestationException.Reason#MALFORMED_COLLATERAL}
     */
    public static TcbInfo parse(String json) throws AttestationException {
        try {
            return new TcbInfo(Json.parse(json, MAX_CHARS));
        } catch (IllegalArgumentException e) {
            throw new AttestationException(AttestationException.Reason.MALFORMED_COLLATERAL,
                    "Failed to decode TcbInfo: " + e.getMessage(), e);
        }
    }

    private static byte[] hexAny(String s, String path) {
        try {
            return Hex.decode(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    private static TcbLevel level(JsonNode l, String p) {
        Json.object(l, p);
        JsonNode tcb = Json.object(Json.required(l, "tcb", p), p + ".tcb");
        int[] sgx = components(Json.array(tcb, "sgxtcbcomponents", true, p + ".tcb"), p + ".tcb.sgxtcbcomponents");
        int[] tdx = components(Json.array(tcb, "tdxtcbcomponents", false, p + ".tcb"), p + ".tcb.tdxtcbcomponents");
        int pce = (int) Json.integer(tcb, "pcesvn", 0, 0xffff, p + ".tcb");
        return new TcbLevel(sgx, tdx, pce, Json.string(l, "tcbDate", p), status(l, p));
    }

    static TcbStatusWithAdvisory status(JsonNode l, String p) {
        TcbStatus s;
        try {
            s = TcbStatus.fromJsonName(Json.string(l, "tcbStatus", p));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(p + ".tcbStatus: " + e.getMessage(), e);
        }
        return new TcbStatusWithAdvisory(s, Json.stringArray(l, "advisoryIDs", p));
    }

    private static int[] components(List<JsonNode> arr, String p) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode c = Json.object(arr.get(i), p + "[" + i + "]");
            out[i] = (int) Json.integer(c, "svn", 0, 255, p + "[" + i + "]");
        }
        return out;
    }

    private static TdxModule module(JsonNode m, String p) {
        Json.object(m, p);
        return new TdxModule(Json.hex(m, "mrsigner", 48, p), Json.hex(m, "attributes", 8, p),
                Json.hex(m, "attributesMask", 8, p));
    }

    static List<IsvSvnLevel> isvSvnLevels(JsonNode n, int max, String p) {
        List<IsvSvnLevel> out = new ArrayList<>();
        int i = 0;
        for (JsonNode l : Json.array(n, "tcbLevels", true, p)) {
            String lp = p + ".tcbLevels[" + i++ + "]";
            Json.object(l, lp);
            JsonNode tcb = Json.object(Json.required(l, "tcb", lp), lp + ".tcb");
            int svn = (int) Json.integer(tcb, "isvsvn", 0, max, lp + ".tcb");
            out.add(new IsvSvnLevel(svn, Json.string(l, "tcbDate", lp), status(l, lp)));
        }
        return List.copyOf(out);
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

    /** FMSPC as uppercase hex, as Intel writes it. */
    public String fmspc() {
        return Hex.encodeUpper(fmspc);
    }

    byte[] fmspcBytes() {
        return fmspc;
    }

    public String pceId() {
        return pceId;
    }

    public long tcbType() {
        return tcbType;
    }

    public long tcbEvaluationDataNumber() {
        return tcbEvaluationDataNumber;
    }

    /** Levels in JSON order. */
    public List<TcbLevel> tcbLevels() {
        return tcbLevels;
    }

    /** The {@code tdxModule} object, or null. */
    public TdxModule tdxModule() {
        return tdxModule;
    }

    public List<TdxModuleIdentity> tdxModuleIdentities() {
        return tdxModuleIdentities;
    }

    /** True when this is TDX TCB info as the reference defines it ({@code id == "TDX"} and version ≥ 3). */
    public boolean isTdx() {
        return version >= 3 && "TDX".equals(id);
    }
}
