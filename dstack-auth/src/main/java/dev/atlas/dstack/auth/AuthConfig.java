package dev.atlas.dstack.auth;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * auth-simple's configuration file, parsed with its schema's rules: every field optional with zod's defaults,
 * unknown keys ignored, a wrong type an error. An error means the whole file is replaced by the defaults, which
 * deny every request ({@link #load}).
 *
 * <p>Duplicate keys and trailing content are errors here (JSON.parse would take the last duplicate and reject
 * trailing content anyway), so a file caught half-written never yields a decision of its own.
 */
public final class AuthConfig {
    /** auth-simple's zero address, the default of {@code kmsContractAddr} and {@code appImplementation}. */
    public static final String ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
    /** Largest config file read. */
    public static final int MAX_BYTES = 4 << 20;

    /** Strict JSON for the config and, in {@link AuthServer}, request bodies: duplicate keys and trailing tokens fail. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** One app's entry. */
    public record App(List<String> composeHashes, List<String> devices, boolean allowAnyDevice) {
        public App {
            composeHashes = List.copyOf(composeHashes);
            devices = List.copyOf(devices);
        }
    }

    /** The KMS entry. */
    public record Kms(List<String> mrAggregated, List<String> devices, boolean allowAnyDevice) {
        public Kms {
            mrAggregated = List.copyOf(mrAggregated);
            devices = List.copyOf(devices);
        }
    }

    private final List<String> osImages;
    private final String gatewayAppId;
    private final String kmsContractAddr;
    private final JsonNode chainId;
    private final String appImplementation;
    private final List<String> allowedTcbStatuses;
    private final List<String> allowedAdvisoryIds;
    private final Kms kms;
    private final Map<String, App> apps;
    private final String sha256;

    private AuthConfig(List<String> osImages, String gatewayAppId, String kmsContractAddr, JsonNode chainId,
            String appImplementation, List<String> allowedTcbStatuses, List<String> allowedAdvisoryIds, Kms kms,
            Map<String, App> apps, String sha256) {
        this.osImages = List.copyOf(osImages);
        this.gatewayAppId = gatewayAppId;
        this.kmsContractAddr = kmsContractAddr;
        this.chainId = chainId;
        this.appImplementation = appImplementation;
        this.allowedTcbStatuses = List.copyOf(allowedTcbStatuses);
        this.allowedAdvisoryIds = List.copyOf(allowedAdvisoryIds);
        this.kms = kms;
        this.apps = Collections.unmodifiableMap(new LinkedHashMap<>(apps));
        this.sha256 = sha256;
    }

    private static final AuthConfig DEFAULTS = new AuthConfig(List.of(), "", ZERO_ADDRESS,
            JSON.getNodeFactory().numberNode(0), ZERO_ADDRESS, List.of("UpToDate"), List.of(),
            new Kms(List.of(), List.of(), false), Map.of(), "none");

    /**
     * The JSON text of an auth-simple config in the layout a deployment guide's operator writes by hand: the
     * allowed OS images, the gateway's app id, the KMS's allowed {@code mr_aggregated} values and, per app id, the
     * allowed compose hashes, every entry with {@code allowAnyDevice: true}. Pretty-printed, newline-terminated;
     * {@link #parse} accepts it. For development deployments and tests ({@code atlas dev up}, dstack-testing).
     */
    public static String allowAnyDeviceJson(java.util.Collection<String> osImages, String gatewayAppId,
            java.util.Collection<String> kmsMrAggregated,
            Map<String, ? extends java.util.Collection<String>> appComposeHashes) {
        com.fasterxml.jackson.databind.node.ObjectNode c = JSON.createObjectNode();
        osImages.forEach(c.putArray("osImages")::add);
        c.put("gatewayAppId", gatewayAppId);
        com.fasterxml.jackson.databind.node.ObjectNode k = c.putObject("kms");
        kmsMrAggregated.forEach(k.putArray("mrAggregated")::add);
        k.put("allowAnyDevice", true);
        com.fasterxml.jackson.databind.node.ObjectNode a = c.putObject("apps");
        for (Map.Entry<String, ? extends java.util.Collection<String>> e : appComposeHashes.entrySet()) {
            com.fasterxml.jackson.databind.node.ObjectNode app = a.putObject(e.getKey());
            e.getValue().forEach(app.putArray("composeHashes")::add);
            app.put("allowAnyDevice", true);
        }
        return c.toPrettyString() + "\n";
    }

    /** Every field at its default: denies every request. */
    public static AuthConfig defaults() {
        return DEFAULTS;
    }

    /** A config error: the message says which field and why. */
    public static final class ConfigException extends Exception {
        private static final long serialVersionUID = 1L;

        public ConfigException(String message) {
            super(message);
        }
    }

    /**
     * The outcome of reading the file: the config in force (the defaults when {@code error} is set), the error,
     * and the SHA-256 of the bytes read ("none" when nothing was read).
     */
    public record Loaded(AuthConfig config, String error, String sha256) {
        public boolean ok() {
            return error == null;
        }
    }

    /** Reads and parses the file; never throws. A missing, unreadable or invalid file gives the defaults. */
    public static Loaded load(Path file) {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes(MAX_BYTES + 1); // one bounded read: no size check that the file can outgrow
        } catch (NoSuchFileException e) {
            return new Loaded(defaults(), "config file not found: " + file, "none");
        } catch (IOException e) {
            return new Loaded(defaults(), "cannot read config file " + file + ": " + words(e), "none");
        }
        if (bytes.length > MAX_BYTES) {
            return new Loaded(defaults(), "config file larger than " + MAX_BYTES + " bytes: " + file, "none");
        }
        String digest = sha256(bytes);
        try {
            return new Loaded(parse(bytes, digest), null, digest);
        } catch (ConfigException e) {
            return new Loaded(defaults(), "config file " + file + ": " + e.getMessage(), digest);
        }
    }

    /** An I/O problem in words: the JDK's message (an access-denied one is just the path), never a class name. */
    static String words(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : "read error";
    }

    /** Parses config JSON with auth-simple's schema. */
    public static AuthConfig parse(byte[] json) throws ConfigException {
        return parse(json, sha256(json));
    }

    private static AuthConfig parse(byte[] json, String digest) throws ConfigException {
        if (json.length > MAX_BYTES) {
            throw new ConfigException("config larger than " + MAX_BYTES + " bytes");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new ConfigException(jsonError(e));
        } catch (IOException e) {
            throw new ConfigException("invalid JSON: cannot be read");
        }
        if (root == null || root.isMissingNode()) {
            throw new ConfigException("invalid JSON: the file is empty (expected a JSON object)");
        }
        if (!root.isObject()) {
            throw new ConfigException("the config must be a JSON object");
        }
        List<String> osImages = strings(root, "osImages", List.of());
        String gateway = string(root, "gatewayAppId", "");
        String kmsAddr = string(root, "kmsContractAddr", ZERO_ADDRESS);
        JsonNode chain = root.get("chainId");
        if (chain == null) {
            chain = DEFAULTS.chainId;
        } else if (!chain.isNumber() || !Double.isFinite(chain.asDouble())) {
            throw new ConfigException("chainId: expected a number");
        }
        String impl = string(root, "appImplementation", ZERO_ADDRESS);
        List<String> tcb = strings(root, "allowedTcbStatuses", List.of("UpToDate"));
        List<String> advisories = strings(root, "allowedAdvisoryIds", List.of());
        Kms kms = DEFAULTS.kms;
        JsonNode k = root.get("kms");
        if (k != null) {
            if (!k.isObject()) {
                throw new ConfigException("kms: expected an object");
            }
            kms = new Kms(strings(k, "kms.mrAggregated", "mrAggregated", List.of()),
                    strings(k, "kms.devices", "devices", List.of()), bool(k, "kms.allowAnyDevice", "allowAnyDevice"));
        }
        Map<String, App> apps = new LinkedHashMap<>();
        JsonNode a = root.get("apps");
        if (a != null) {
            if (!a.isObject()) {
                throw new ConfigException("apps: expected an object keyed by app id");
            }
            for (Map.Entry<String, JsonNode> e : a.properties()) {
                JsonNode app = e.getValue();
                String where = "apps." + e.getKey();
                if (!app.isObject()) {
                    throw new ConfigException(where + ": expected an object");
                }
                apps.put(e.getKey(), new App(strings(app, where + ".composeHashes", "composeHashes", List.of()),
                        strings(app, where + ".devices", "devices", List.of()),
                        bool(app, where + ".allowAnyDevice", "allowAnyDevice")));
            }
        }
        return new AuthConfig(osImages, gateway, kmsAddr, chain, impl, tcb, advisories, kms, apps, digest);
    }

    /**
     * A JSON syntax error in plain words with its line and column: never Jackson's own message, which names
     * its features, its types and (in locations) its source descriptor.
     */
    static String jsonError(JacksonException e) {
        JsonLocation loc = e.getLocation();
        String where = loc != null && loc.getLineNr() > 0
                ? " at line " + loc.getLineNr() + (loc.getColumnNr() > 0 ? ", column " + loc.getColumnNr() : "") : "";
        String m = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
        String problem;
        if (e instanceof JsonEOFException || m.contains("end-of-input")) {
            problem = "the file ends before the JSON is complete (cut short, or still being written?)";
        } else if (m.startsWith("Duplicate field '")) {
            problem = "a key appears twice in the same object: " + quoted(m, "Duplicate field '")
                    + " (which one should count is ambiguous, so the file is refused)";
        } else if (m.startsWith("Trailing token")) {
            problem = "there is more content after the end of the JSON object";
        } else if (m.contains("was expecting double-quote to start field name")) {
            problem = "expected a key in double quotes (a trailing comma, or a key without quotes?)";
        } else if (m.contains("was expecting comma")) {
            problem = "expected a comma between two entries";
        } else if (m.contains("was expecting a colon")) {
            problem = "expected a colon after the key";
        } else if (m.startsWith("Unrecognized token '")) {
            problem = "unknown word " + quoted(m, "Unrecognized token '")
                    + " (strings need double quotes; true, false and null are lowercase)";
        } else if (m.startsWith("Unexpected close marker")) {
            problem = "a closing bracket does not match the one that opened";
        } else if (m.contains("Illegal unquoted character")) {
            problem = "a control character inside a string (write it escaped, e.g. \\n)";
        } else if (m.contains("Invalid UTF-8")) {
            problem = "the file is not valid UTF-8 text";
        } else if (m.contains("out of range")) {
            problem = "a number is out of range";
        } else if (m.startsWith("Unexpected character ('")) {
            int c = m.indexOf("(code ");
            int end = c < 0 ? -1 : m.indexOf(')', c);
            String ch = "";
            if (c >= 0 && end > c) {
                try {
                    int cp = Integer.parseInt(m.substring(c + 6, end).trim().split(" ")[0]);
                    ch = cp >= 0x20 && cp < 0x7f ? " '" + (char) cp + "'" : String.format(" U+%04X", cp);
                } catch (NumberFormatException ignored) {
                    // no character named
                }
            }
            problem = "unexpected character" + ch;
        } else {
            problem = "not valid JSON";
        }
        return "invalid JSON" + where + ": " + problem;
    }

    /** The text between {@code prefix} and the next single quote, quoted; "" when absent. */
    private static String quoted(String m, String prefix) {
        int a = m.indexOf(prefix);
        int b = a < 0 ? -1 : m.indexOf('\'', a + prefix.length());
        if (a < 0 || b < 0) {
            return "";
        }
        String t = m.substring(a + prefix.length(), b);
        return "\"" + (t.length() > 60 ? t.substring(0, 60) + "…" : t) + "\"";
    }

    private static String string(JsonNode o, String name, String dflt) throws ConfigException {
        JsonNode v = o.get(name);
        if (v == null) {
            return dflt;
        }
        if (v.getNodeType() != JsonNodeType.STRING) {
            throw new ConfigException(name + ": expected a string");
        }
        return v.textValue();
    }

    private static List<String> strings(JsonNode o, String name, List<String> dflt) throws ConfigException {
        return strings(o, name, name, dflt);
    }

    private static List<String> strings(JsonNode o, String where, String name, List<String> dflt)
            throws ConfigException {
        JsonNode v = o.get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isArray()) {
            throw new ConfigException(where + ": expected an array of strings");
        }
        List<String> out = new ArrayList<>(v.size());
        for (JsonNode s : v) {
            if (!s.isTextual()) {
                throw new ConfigException(where + ": expected an array of strings");
            }
            out.add(s.textValue());
        }
        return out;
    }

    private static boolean bool(JsonNode o, String where, String name) throws ConfigException {
        JsonNode v = o.get(name);
        if (v == null) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new ConfigException(where + ": expected a boolean");
        }
        return v.booleanValue();
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public List<String> osImages() {
        return osImages;
    }

    /** Echoed verbatim. */
    public String gatewayAppId() {
        return gatewayAppId;
    }

    public String kmsContractAddr() {
        return kmsContractAddr;
    }

    /** The number as written (echoed by {@code GET /}). */
    public JsonNode chainId() {
        return chainId;
    }

    public String appImplementation() {
        return appImplementation;
    }

    public List<String> allowedTcbStatuses() {
        return allowedTcbStatuses;
    }

    public List<String> allowedAdvisoryIds() {
        return allowedAdvisoryIds;
    }

    public Kms kms() {
        return kms;
    }

    /** Apps in file order (the first whose normalized key matches wins, as in auth-simple). */
    public Map<String, App> apps() {
        return apps;
    }

    /** SHA-256 of the bytes this config was parsed from ("none" for the defaults). */
    public String sha256() {
        return sha256;
    }
}
