package dev.atlas.dstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Atlas's default app compose and its merge helper (spec atls-protocol §4.4), for policies written the
 * Atlas way. Values are fresh copies; callers may modify them.
 */
public final class AppCompose {
    /** SHA-256 (Atlas serialization) of {@link #atlasDefault()}. */
    public static final String ATLAS_DEFAULT_HASH = "a372f45a6f60cacfdf6be794a0729e3fb79c43b190db2e38b91544d149d9f6b5";

    private static final String PRE_LAUNCH_SCRIPT = loadScript();

    private AppCompose() {}

    /**
     * Atlas's default app compose: the members of Atlas's {@code default_app_compose()} in its order. The
     * {@code pre_launch_script} is Phala Cloud's pre-launch script v0.0.10, kept byte-exact as a resource
     * because the compose hash covers every byte of it; it is data here, never executed.
     */
    public static ObjectNode atlasDefault() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putArray("allowed_envs");
        o.put("docker_compose_file", "");
        o.putArray("features").add("kms").add("tproxy-net");
        o.put("gateway_enabled", true);
        o.put("kms_enabled", true);
        o.put("local_key_provider_enabled", false);
        o.put("manifest_version", 2);
        o.put("name", "");
        o.put("no_instance_id", false);
        o.put("pre_launch_script", PRE_LAUNCH_SCRIPT);
        o.put("public_logs", true);
        o.put("public_sysinfo", true);
        o.put("public_tcbinfo", true);
        o.put("runner", "docker-compose");
        o.put("secure_time", false);
        o.put("storage_fs", "zfs");
        o.put("tproxy_enabled", true);
        return o;
    }

    /**
     * Atlas's {@code merge_with_default_app_compose}: start from {@link #atlasDefault()}, then for each member
     * of {@code user} in order, overwrite an existing member in place or append a new one at the end. A
     * {@code user} value that is not an object replaces the whole document.
     */
    public static JsonNode mergeWithDefault(JsonNode user) {
        if (user == null || !user.isObject()) {
            return user == null ? atlasDefault() : user.deepCopy();
        }
        ObjectNode merged = atlasDefault();
        for (Map.Entry<String, JsonNode> e : user.properties()) {
            merged.set(e.getKey(), e.getValue().deepCopy());
        }
        return merged;
    }

    private static String loadScript() {
        try (InputStream in = AppCompose.class.getResourceAsStream("atlas-default-pre-launch-script.txt")) {
            if (in == null) {
                throw new IllegalStateException("atlas-default-pre-launch-script.txt missing from atlas-dstack");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
