package dev.atlas.dstack.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code atlas auth-server check FILE}: what a config allows, in words, with auth-simple's quirks spelled out,
 * and (strict) every entry that is not hex of the right length.
 */
public final class ConfigCheck {
    /** The listing and the problems (problems make the check fail). */
    public record Result(List<String> lines, List<String> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private ConfigCheck() {
    }

    public static Result check(AuthConfig c, boolean strict) {
        List<String> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        out.add("config sha256: " + c.sha256());
        out.add("gatewayAppId (echoed verbatim): \"" + c.gatewayAppId() + "\"");
        out.add("GET /: kmsContractAddr=" + c.kmsContractAddr() + " chainId=" + c.chainId() + " appImplementation="
                + c.appImplementation());
        if (strict && !(c.chainId().canConvertToExactIntegral() && c.chainId().asLong() >= 0)) {
            problems.add("chainId must be a non-negative integer (the KMS decodes it as one)");
        }
        out.add("TCB statuses allowed (exact match): " + c.allowedTcbStatuses());
        out.add("advisory ids allowed (exact match): " + (c.allowedAdvisoryIds().isEmpty()
                ? "none (any advisory denies)" : c.allowedAdvisoryIds()));
        out.add("OS images: " + (c.osImages().isEmpty() ? "NONE: every app and KMS is denied" : ""));
        listHex(out, problems, strict, "osImages", c.osImages(), 32);
        out.add("KMS aggregated MRs: " + (c.kms().mrAggregated().isEmpty() ? "NONE: every KMS is denied" : ""));
        listHex(out, problems, strict, "kms.mrAggregated", c.kms().mrAggregated(), 32);
        out.add("KMS devices: " + devices(c.kms().allowAnyDevice(), c.kms().devices(), strict));
        listHex(out, problems, strict, "kms.devices", c.kms().devices(), 32);
        if (c.apps().isEmpty()) {
            out.add("apps: NONE: every app is denied (app not registered)");
        }
        for (Map.Entry<String, AuthConfig.App> e : c.apps().entrySet()) {
            AuthConfig.App a = e.getValue();
            out.add("app " + BootAuthorizer.normalizeHex(e.getKey()) + ":");
            if (strict && !BootInfo.isHexOfLength(e.getKey(), 20)) {
                problems.add("apps." + e.getKey() + ": an app id must be 20 bytes of hex");
            }
            out.add("  compose hashes: " + (a.composeHashes().isEmpty() ? "NONE: the app is denied" : ""));
            listHex(out, problems, strict, "apps." + e.getKey() + ".composeHashes", a.composeHashes(), 32);
            out.add("  devices: " + devices(a.allowAnyDevice(), a.devices(), strict));
            listHex(out, problems, strict, "apps." + e.getKey() + ".devices", a.devices(), 32);
        }
        return new Result(out, problems);
    }

    private static String devices(boolean any, List<String> list, boolean strict) {
        if (any) {
            return "any (allowAnyDevice)";
        }
        if (list.isEmpty()) {
            return strict ? "NONE (strict mode: an empty list denies)"
                    : "any: the list is empty and auth-simple then allows every device (use --strict to deny)";
        }
        return "only these:";
    }

    private static void listHex(List<String> out, List<String> problems, boolean strict, String where,
            List<String> values, int bytes) {
        for (String v : values) {
            out.add("    " + BootAuthorizer.normalizeHex(v));
            if (strict && !BootInfo.isHexOfLength(v, bytes)) {
                problems.add(where + ": '" + v + "' is not " + bytes + " bytes of hex");
            }
        }
    }
}
