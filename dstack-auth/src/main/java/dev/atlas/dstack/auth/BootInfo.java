package dev.atlas.dstack.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What the KMS sends to {@code /bootAuth/app} and {@code /bootAuth/kms} (camelCase, hex without {@code 0x}), as
 * auth-simple's schema reads it: six required strings, four optional fields with defaults, anything else
 * ignored (for example {@code keyProviderInfo}).
 */
public record BootInfo(String teeVariant, String mrAggregated, String osImageHash, String appId, String composeHash,
        String instanceId, String deviceId, String tcbStatus, List<String> advisoryIds, String mrSystem) {

    public BootInfo {
        advisoryIds = List.copyOf(advisoryIds);
    }

    /** The fields that must be present strings. */
    public static final List<String> REQUIRED = List.of("mrAggregated", "osImageHash", "appId", "composeHash",
            "instanceId", "deviceId");

    /**
     * Validation failure in zod's shape ({@code {"success":false,"error":{"issues":[…],"name":"ZodError"}}}),
     * which auth-simple returns with status 400.
     */
    public static final class InvalidBootInfo extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient ObjectNode body;

        InvalidBootInfo(ObjectNode body, String summary) {
            super(summary);
            this.body = body;
        }

        /** The 400 body. */
        public ObjectNode body() {
            return body;
        }
    }

    /** Reads a request body already parsed as JSON. */
    public static BootInfo from(JsonNode n) throws InvalidBootInfo {
        JsonNodeFactory f = JsonNodeFactory.instance;
        List<ObjectNode> issues = new ArrayList<>();
        if (n == null || !n.isObject()) {
            issues.add(issue(f, List.of(), "object", n));
            throw invalid(f, issues);
        }
        String[] req = new String[REQUIRED.size()];
        for (int i = 0; i < req.length; i++) {
            req[i] = string(f, n, REQUIRED.get(i), null, issues);
        }
        String tee = string(f, n, "teeVariant", "", issues);
        String tcb = string(f, n, "tcbStatus", "", issues);
        String mrSystem = string(f, n, "mrSystem", "", issues);
        List<String> adv = new ArrayList<>();
        JsonNode a = n.get("advisoryIds");
        if (a != null) {
            if (!a.isArray()) {
                issues.add(issue(f, List.of("advisoryIds"), "array", a));
            } else {
                for (int i = 0; i < a.size(); i++) {
                    if (a.get(i).isTextual()) {
                        adv.add(a.get(i).textValue());
                    } else {
                        issues.add(issue(f, List.of("advisoryIds", i), "string", a.get(i)));
                    }
                }
            }
        }
        if (!issues.isEmpty()) {
            throw invalid(f, issues);
        }
        return new BootInfo(tee, req[0], req[1], req[2], req[3], req[4], req[5], tcb, adv, mrSystem);
    }

    private static String string(JsonNodeFactory f, JsonNode o, String name, String dflt, List<ObjectNode> issues) {
        JsonNode v = o.get(name);
        if (v == null && dflt != null) {
            return dflt;
        }
        if (v == null || !v.isTextual()) {
            issues.add(issue(f, List.of(name), "string", v));
            return null;
        }
        return v.textValue();
    }

    private static ObjectNode issue(JsonNodeFactory f, List<Object> path, String expected, JsonNode got) {
        String received = got == null ? "undefined" : switch (got.getNodeType()) {
            case NULL -> "null";
            case NUMBER -> "number";
            case BOOLEAN -> "boolean";
            case ARRAY -> "array";
            case OBJECT -> "object";
            case STRING -> "string";
            default -> "unknown";
        };
        ObjectNode i = f.objectNode();
        i.put("code", "invalid_type");
        i.put("expected", expected);
        i.put("received", received);
        var p = i.putArray("path");
        for (Object o : path) {
            if (o instanceof Integer k) {
                p.add(k);
            } else {
                p.add((String) o);
            }
        }
        i.put("message", got == null ? "Required" : "Expected " + expected + ", received " + received);
        return i;
    }

    private static InvalidBootInfo invalid(JsonNodeFactory f, List<ObjectNode> issues) {
        ObjectNode body = f.objectNode();
        body.put("success", false);
        ObjectNode err = body.putObject("error");
        err.putArray("issues").addAll(issues);
        err.put("name", "ZodError");
        StringBuilder sb = new StringBuilder();
        for (ObjectNode i : issues) {
            sb.append(sb.isEmpty() ? "" : "; ").append(i.get("path")).append(": ").append(i.get("message").asText());
        }
        return new InvalidBootInfo(body, sb.toString());
    }

    /** Hex lengths in bytes that {@code --strict} requires ({@code instanceId}, {@code osImageHash} may be empty). */
    static final Map<String, Integer> STRICT_LENGTHS = Map.of("appId", 20, "instanceId", 20, "composeHash", 32,
            "mrAggregated", 32, "deviceId", 32, "osImageHash", 32, "mrSystem", 32);

    /** Null when every id is hex of its length (optional {@code 0x}), else what is wrong. */
    public String strictProblem() {
        String[][] fields = {{"appId", appId}, {"instanceId", instanceId}, {"composeHash", composeHash},
            {"mrAggregated", mrAggregated}, {"deviceId", deviceId}, {"osImageHash", osImageHash},
            {"mrSystem", mrSystem}};
        for (String[] fv : fields) {
            String v = fv[1];
            boolean mayBeEmpty = fv[0].equals("instanceId") || fv[0].equals("osImageHash") || fv[0].equals("mrSystem");
            if (v.isEmpty() && mayBeEmpty) {
                continue;
            }
            if (!isHexOfLength(v, STRICT_LENGTHS.get(fv[0]))) {
                return fv[0] + " must be " + STRICT_LENGTHS.get(fv[0]) + " bytes of hex";
            }
        }
        return null;
    }

    static boolean isHexOfLength(String v, int bytes) {
        String h = v.startsWith("0x") || v.startsWith("0X") ? v.substring(2) : v;
        if (h.length() != bytes * 2) {
            return false;
        }
        for (int i = 0; i < h.length(); i++) {
            if (!HexFormat.isHexDigit(h.charAt(i))) { // ASCII only; Character.digit takes other scripts' digits
                return false;
            }
        }
        return true;
    }
}
