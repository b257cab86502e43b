package dev.atlas.dstack.vmm.internal;

import dev.atlas.testing.SharedTestData;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The field names of each message of dstack's {@code vmm_rpc.proto} (from {@code ../shared/testdata}). */
final class ProtoFields {
    private static final Pattern MESSAGE = Pattern.compile("message\\s+(\\w+)\\s*\\{([^}]*)}", Pattern.DOTALL);
    private static final Pattern FIELD = Pattern.compile(
            "^\\s*(?:optional\\s+|repeated\\s+)?[\\w.]+\\s+(\\w+)\\s*=\\s*\\d+\\s*;", Pattern.MULTILINE);

    private ProtoFields() {}

    static Map<String, Set<String>> vmmRpc() {
        String proto = SharedTestData.text("dstack/proto/vmm_rpc.proto");
        Map<String, Set<String>> out = new LinkedHashMap<>();
        Matcher m = MESSAGE.matcher(proto);
        while (m.find()) {
            Set<String> fields = new LinkedHashSet<>();
            String body = m.group(2).replaceAll("//[^\n]*", "");
            Matcher f = FIELD.matcher(body);
            while (f.find()) {
                fields.add(f.group(1));
            }
            out.put(m.group(1), fields);
        }
        return out;
    }
}
