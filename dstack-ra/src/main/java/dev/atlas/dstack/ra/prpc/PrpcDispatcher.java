package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.internal.SerdeJson;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * Maps one pRPC HTTP request to a response, independent of the HTTP server (upstream
 * {@code ra-rpc/src/rocket_helper.rs}, {@code ra-rpc/src/lib.rs}, {@code prpc-build/src/server.rs}).
 *
 * <p>The rules, in order (see {@code docs/prpc.md}):
 * <ol>
 *   <li>with an {@link AdminAuth}: a request it refuses gets its 401; an accepted GET loses {@code ?token=};</li>
 *   <li>only {@code GET}, {@code HEAD} (answered like GET) and {@code POST} of a single path segment are routes:
 *       anything else is 404;</li>
 *   <li>the segment is percent-decoded and every configured service prefix is removed from its start
 *       ({@code KMS.GetAppKey} and {@code GetAppKey} are the same method);</li>
 *   <li>a POST body larger than {@link #maxBodyBytes()} is 400 {@code "failed to read data: payload too large"};</li>
 *   <li>the call is JSON when it is a GET, the query has {@code json} ({@code json}, {@code json=},
 *       {@code json=true}, {@code json=1}) or the Content-Type is {@code application/json}; otherwise it is
 *       binary protobuf, which this binding does not support: 400 with a protobuf {@code ProtoError} saying so;</li>
 *   <li>an unknown method is 400 {@code "Service not found: <method>"};</li>
 *   <li>the message is the strict JSON body (POST) or the decoded query (GET); empty means {@code {}};</li>
 *   <li>the handler's result is 200 with compact JSON; a {@link PrpcException} is 400 with dstack's pretty
 *       {@code {"error": "..."}}; any other exception is 500 {@code {"error": "internal error"}} (the exception
 *       goes to the {@linkplain Builder#onUnexpectedError listener}, never to the caller).</li>
 * </ol>
 * Every response carries {@code X-App-Version} when one is configured. Thread-safe; handlers may be called
 * concurrently.
 */
public final class PrpcDispatcher {
    /** dstack's default per-method body limit, 10 MiB. */
    public static final int DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
    /** The message of the 500 answer; the real exception is never sent. */
    public static final String INTERNAL_ERROR = "internal error";

    private final Map<String, PrpcHandler> methods;
    private final List<String> prefixes;
    private final int maxBodyBytes;
    private final String appVersion;
    private final ObjectMapper mapper;
    private final AdminAuth adminAuth;
    private final BiConsumer<String, Throwable> onUnexpectedError;

    private PrpcDispatcher(Builder b) {
        this.methods = Map.copyOf(b.methods);
        this.prefixes = List.copyOf(b.prefixes);
        this.maxBodyBytes = b.maxBodyBytes;
        this.appVersion = b.appVersion;
        this.mapper = b.mapper != null ? b.mapper : PrpcJson.newMapper();
        this.adminAuth = b.adminAuth;
        this.onUnexpectedError = b.onUnexpectedError;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The body limit this dispatcher enforces; transports stop reading after {@code maxBodyBytes() + 1} bytes. */
    public int maxBodyBytes() {
        return maxBodyBytes;
    }

    /** The bare method names served. */
    public java.util.Set<String> methods() {
        return methods.keySet();
    }

    /** Never throws (except {@link Error}s such as out-of-memory); the path is relative to the mount. */
    public PrpcResponse dispatch(PrpcRequest request) {
        Objects.requireNonNull(request, "request");
        PrpcResponse r;
        try {
            r = dispatchInner(request);
        } catch (RuntimeException | StackOverflowError e) {
            report("dispatch", e);
            r = json(500, INTERNAL_ERROR);
        }
        return appVersion == null ? r : r.withHeader("X-App-Version", appVersion);
    }

    private PrpcResponse dispatchInner(PrpcRequest request) {
        if (adminAuth != null) {
            AdminAuth.Result auth = adminAuth.check(request.httpMethod(), request.headers(), request.rawQuery());
            if (!auth.allowed()) {
                return auth.rejection();
            }
            if (!auth.rawQuery().equals(request.rawQuery())) {
                request = request.withRawQuery(auth.rawQuery());
            }
        }
        String httpMethod = request.httpMethod().toUpperCase(Locale.ROOT);
        boolean isGet = httpMethod.equals("GET") || httpMethod.equals("HEAD");
        if (!isGet && !httpMethod.equals("POST")) {
            return json(404, "no pRPC route for " + safe(httpMethod) + " (only GET and POST)");
        }
        String path = request.path();
        if (!path.startsWith("/") || path.length() == 1 || path.indexOf('/', 1) >= 0) {
            return json(404, "no pRPC route for this path (expected /<Method>)");
        }
        String method = QueryDecoder.decodePathSegment(path.substring(1));
        if (method == null || method.isEmpty()) {
            return json(404, "no pRPC route for this path (the method name is not valid percent-encoded UTF-8)");
        }
        for (String prefix : prefixes) {
            while (method.startsWith(prefix)) {
                method = method.substring(prefix.length());
            }
        }
        // Upstream computes this flag from ?json and GET only; errors before the Content-Type is looked at
        // (the body limit) are encoded with it.
        boolean queryJson = isGet || queryJsonFlag(request.rawQuery());
        if (!isGet && request.body().length > maxBodyBytes) {
            return error(queryJson, "failed to read data: payload too large");
        }
        boolean isJson = queryJson || isJsonContentType(request.contentType());
        if (!isJson) {
            return error(false, "binary protobuf is not supported by this server: send JSON "
                    + "(POST /" + safe(method) + "?json or Content-Type: application/json)");
        }
        PrpcHandler handler = methods.get(method);
        if (handler == null) {
            return error(true, "Service not found: " + safe(method));
        }
        JsonNode message;
        try {
            if (isGet) {
                message = QueryDecoder.decode(request.rawQuery());
            } else if (request.body().length == 0) {
                message = StrictJson.NODES.objectNode();
            } else {
                message = StrictJson.parse(request.body(), 0, request.body().length);
                if (!message.isObject()) {
                    return error(true, "invalid type: " + StrictJson.typeName(message)
                            + ", expected a message object");
                }
            }
        } catch (StrictJson.JsonError e) {
            return error(true, e.getMessage());
        }
        PrpcContext context = new PrpcContext(method, httpMethod, request.peerCertificates(), request.headers());
        Object result;
        try {
            result = handler.handle(message, context);
        } catch (PrpcException e) {
            return error(true, e.getMessage() == null ? "" : e.getMessage());
        } catch (RuntimeException | StackOverflowError e) {
            report(method, e);
            return json(500, INTERNAL_ERROR);
        } catch (Exception e) { // a checked exception thrown sneakily
            report(method, e);
            return json(500, INTERNAL_ERROR);
        }
        byte[] body;
        try {
            if (result == null) {
                body = "{}".getBytes(StandardCharsets.US_ASCII);
            } else {
                body = mapper.writeValueAsBytes(result);
            }
        } catch (Exception e) {
            report(method, e);
            return json(500, INTERNAL_ERROR);
        }
        return new PrpcResponse(200, PrpcResponse.JSON, body, Map.of());
    }

    private void report(String method, Throwable e) {
        if (onUnexpectedError != null) {
            try {
                onUnexpectedError.accept(method, e);
            } catch (RuntimeException ignored) {
                // a failing listener must not change the answer
            }
        }
    }

    /** The first {@code json} query field decides, as upstream's {@code query_field_get_bool}. */
    static boolean queryJsonFlag(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return false;
        }
        for (String pair : rawQuery.split("&", -1)) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k;
            String v;
            try {
                k = QueryDecoder.percentDecode(eq < 0 ? pair : pair.substring(0, eq), "key");
                v = QueryDecoder.percentDecode(eq < 0 ? "" : pair.substring(eq + 1), "value");
            } catch (StrictJson.JsonError e) {
                continue;
            }
            if (k.equals("json")) {
                return v.equals("true") || v.equals("1") || v.isEmpty();
            }
        }
        return false;
    }

    /** Media type {@code application/json}, parameters ignored, case-insensitive (Rocket's {@code is_json}). */
    static boolean isJsonContentType(String contentType) {
        if (contentType == null) {
            return false;
        }
        int semi = contentType.indexOf(';');
        String media = (semi < 0 ? contentType : contentType.substring(0, semi)).trim();
        return media.equalsIgnoreCase("application/json");
    }

    /** An error in upstream's shape: pretty JSON {@code {"error": ...}} (400) or a protobuf ProtoError. */
    static PrpcResponse error(boolean json, String message) {
        if (json) {
            return json(400, message);
        }
        return new PrpcResponse(400, PrpcResponse.BINARY, protoError(message), Map.of());
    }

    static PrpcResponse json(int status, String message) {
        return new PrpcResponse(status, PrpcResponse.JSON, errorJson(message).getBytes(StandardCharsets.UTF_8),
                Map.of());
    }

    /** {@code serde_json::to_string_pretty(&json!({"error": message}))}: two-space indent, no final newline. */
    public static String errorJson(String message) {
        return "{\n  \"error\": " + serdeString(message) + "\n}";
    }

    /** A JSON string literal escaped as serde_json does ({@code \" \\ \b \f \n \r \t}, other controls
     *  {@code \}{@code u00XX}, everything else raw), with every lone surrogate replaced by U+FFFD. */
    static String serdeString(String s) {
        return SerdeJson.quote(wellFormed(s));
    }

    /** {@code s} with every lone surrogate replaced by U+FFFD (serde strings are UTF-8: none can occur there). */
    private static String wellFormed(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!Character.isSurrogate(c)) {
                sb.append(c);
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else {
                sb.append('\uFFFD');
            }
        }
        return sb.toString();
    }

    /** prost encoding of {@code ProtoError { string message = 1; }}. */
    static byte[] protoError(String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(m.length + 6);
        if (m.length > 0) {
            out.write(0x0a);
            int len = m.length;
            while (len >= 0x80) {
                out.write((len & 0x7f) | 0x80);
                len >>>= 7;
            }
            out.write(len);
            out.writeBytes(m);
        }
        return out.toByteArray();
    }

    /** Text from the request echoed in an error: bounded, without control characters. */
    static String safe(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && sb.length() < 128; i++) {
            char c = s.charAt(i);
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (sb.length() >= 128 && s.length() > 128) {
            sb.append("...");
        }
        return sb.toString();
    }

    public static final class Builder {
        private final Map<String, PrpcHandler> methods = new LinkedHashMap<>();
        private final List<String> prefixes = new ArrayList<>();
        private int maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
        private String appVersion;
        private ObjectMapper mapper;
        private AdminAuth adminAuth;
        private BiConsumer<String, Throwable> onUnexpectedError;

        private Builder() {}

        /** Registers a method by its bare proto name (for example {@code GetAppKey}); a name once only. */
        public Builder method(String bareName, PrpcHandler handler) {
            Objects.requireNonNull(bareName, "bareName");
            Objects.requireNonNull(handler, "handler");
            if (bareName.isEmpty() || bareName.indexOf('/') >= 0 || bareName.indexOf('.') >= 0) {
                throw new IllegalArgumentException("method name `" + bareName
                        + "` must be a bare proto method name (no '/', no '.')");
            }
            if (methods.putIfAbsent(bareName, handler) != null) {
                throw new IllegalArgumentException("method `" + bareName + "` is registered twice");
            }
            return this;
        }

        /**
         * A service prefix removed from the start of the method name, with or without its dot: {@code "KMS"} and
         * {@code "KMS."} both make {@code /KMS.GetAppKey} reach {@code GetAppKey}. Repeated prefixes are all
         * removed (upstream uses {@code trim_start_matches}). May be called more than once.
         */
        public Builder trimPrefix(String servicePrefix) {
            Objects.requireNonNull(servicePrefix, "servicePrefix");
            if (servicePrefix.isEmpty() || servicePrefix.equals(".")) {
                throw new IllegalArgumentException("service prefix must not be empty");
            }
            prefixes.add(servicePrefix.endsWith(".") ? servicePrefix : servicePrefix + ".");
            return this;
        }

        /** The POST body limit in bytes (default 10 MiB, upstream's per-method default). */
        public Builder maxBodyBytes(int bytes) {
            if (bytes < 0 || bytes == Integer.MAX_VALUE) {
                throw new IllegalArgumentException("maxBodyBytes must be in [0, " + (Integer.MAX_VALUE - 1)
                        + "], got " + bytes);
            }
            this.maxBodyBytes = bytes;
            return this;
        }

        /** The {@code X-App-Version} header value sent on every response. */
        public Builder appVersion(String version) {
            Objects.requireNonNull(version, "version");
            if (version.chars().anyMatch(c -> c < 0x20 || c >= 0x7f)) {
                throw new IllegalArgumentException("appVersion must be printable ASCII");
            }
            this.appVersion = version;
            return this;
        }

        /** The mapper that serializes handler results (default {@link PrpcJson#newMapper()}). */
        public Builder objectMapper(ObjectMapper mapper) {
            this.mapper = Objects.requireNonNull(mapper, "mapper");
            return this;
        }

        /** Admin-API authentication checked before routing (KMS admin, gateway admin, VMM). */
        public Builder adminAuth(AdminAuth auth) {
            this.adminAuth = Objects.requireNonNull(auth, "auth");
            return this;
        }

        /**
         * Receives the method name and the exception when a handler (or the serialization of its result) fails
         * unexpectedly; the caller only sees 500 {@code {"error": "internal error"}}. Use it to log.
         */
        public Builder onUnexpectedError(BiConsumer<String, Throwable> listener) {
            this.onUnexpectedError = Objects.requireNonNull(listener, "listener");
            return this;
        }

        public PrpcDispatcher build() {
            return new PrpcDispatcher(this);
        }
    }
}
