package dev.atlas.dstack.ra.prpc;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * dstack's admin-API authentication (platform spec §0.3; upstream {@code crates/api-auth/src/lib.rs}, wired in
 * {@code vmm/src/main.rs}, {@code gateway/src/admin_auth.rs}, {@code kms/src/admin_auth.rs}).
 *
 * <p>A request is accepted when, in this order:
 * <ol>
 *   <li>the token header ({@code X-Admin-Token}) carries a valid token (otherwise the next rules still apply);</li>
 *   <li>{@code Authorization: Bearer <token>}: the token decides, nothing after is tried;</li>
 *   <li>{@code Authorization: Basic <base64>}: a listed htpasswd user with its password, or {@code user:<token>},
 *       or {@code <token>:}, decides; a Basic value that is not canonical base64 of UTF-8 falls through;</li>
 *   <li>with {@link Builder#allowQueryToken(boolean) query tokens} (VMM, gateway), a {@code GET} whose query has a
 *       {@code token} field with a valid token.</li>
 * </ol>
 * Otherwise the answer is 401 with {@code WWW-Authenticate: Basic realm="<realm>"} and an empty body. An accepted
 * request on a query-token API loses its {@code token=} fields ({@link Result#rawQuery()}) before routing.
 *
 * <p>Tokens are held only as SHA-256 digests and every digest is compared in constant time; the htpasswd file is
 * read once, when the builder is given it (upstream never re-reads it either). The realm, token header and query
 * flag come from the presets {@link #forVmm()}, {@link #forGateway()}, {@link #forKms()}.
 */
public final class AdminAuth {
    public static final String REALM_VMM = "dstack-vmm API";
    public static final String REALM_GATEWAY = "dstack-gateway admin";
    public static final String REALM_KMS = "dstack-kms admin";
    /** The token header of all three services. */
    public static final String TOKEN_HEADER = "X-Admin-Token";
    public static final String ENV_KMS_ADMIN_TOKEN = "DSTACK_KMS_ADMIN_TOKEN";
    public static final String ENV_GATEWAY_ADMIN_TOKEN = "DSTACK_GATEWAY_ADMIN_TOKEN";
    /** The compatibility variable read after the service's own one (gateway and KMS). */
    public static final String ENV_ADMIN_API_TOKEN = "ADMIN_API_TOKEN";
    /** Our limit on an {@code Authorization} or token header value. */
    static final int MAX_CREDENTIAL_CHARS = 8192;

    private final boolean enabled;
    private final List<byte[]> tokenHashes;
    private final Htpasswd htpasswd;
    private final String realm;
    private final String tokenHeader;
    private final boolean allowQueryToken;

    private AdminAuth(Builder b) {
        this.enabled = !b.insecureNoAuth;
        this.tokenHashes = List.copyOf(b.tokenHashes);
        this.htpasswd = b.htpasswd;
        this.realm = b.realm;
        this.tokenHeader = b.tokenHeader;
        this.allowQueryToken = b.allowQueryToken;
    }

    /** A builder with no realm preset ({@code dstack API}, upstream's default), token header, no query tokens. */
    public static Builder builder() {
        return new Builder("dstack API", false);
    }

    /** VMM: realm {@value #REALM_VMM}, {@code ?token=} on GET allowed. */
    public static Builder forVmm() {
        return new Builder(REALM_VMM, true);
    }

    /** Gateway admin: realm {@value #REALM_GATEWAY}, {@code ?token=} on GET allowed. */
    public static Builder forGateway() {
        return new Builder(REALM_GATEWAY, true);
    }

    /** KMS admin: realm {@value #REALM_KMS}, no query tokens. */
    public static Builder forKms() {
        return new Builder(REALM_KMS, false);
    }

    /**
     * The gateway's and KMS's token resolution ({@code admin_auth.rs}): the configured token when it is not empty,
     * else {@code primaryVar}, else {@value #ENV_ADMIN_API_TOKEN} (a variable that is set, even to an empty
     * value, wins over the next, as Rust's {@code env::var(..).or_else(..)}); trimmed; empty means none.
     *
     * @param configToken the config file's token ({@code core.admin.auth_token}), may be null
     * @param env the environment, injected (for example {@code System.getenv()})
     * @param primaryVar {@link #ENV_KMS_ADMIN_TOKEN} or {@link #ENV_GATEWAY_ADMIN_TOKEN}
     */
    public static Optional<String> resolveToken(String configToken, Map<String, String> env, String primaryVar) {
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(primaryVar, "primaryVar");
        String t;
        if (configToken != null && !configToken.isEmpty()) {
            t = configToken;
        } else if (env.containsKey(primaryVar)) {
            t = env.get(primaryVar);
        } else if (env.containsKey(ENV_ADMIN_API_TOKEN)) {
            t = env.get(ENV_ADMIN_API_TOKEN);
        } else {
            t = "";
        }
        t = t == null ? "" : t.strip();
        return t.isEmpty() ? Optional.empty() : Optional.of(t);
    }

    /** {@link #resolveToken} for the KMS ({@value #ENV_KMS_ADMIN_TOKEN}, then {@value #ENV_ADMIN_API_TOKEN}). */
    public static Optional<String> kmsToken(String configToken, Map<String, String> env) {
        return resolveToken(configToken, env, ENV_KMS_ADMIN_TOKEN);
    }

    /** {@link #resolveToken} for the gateway ({@value #ENV_GATEWAY_ADMIN_TOKEN}, then {@value #ENV_ADMIN_API_TOKEN}). */
    public static Optional<String> gatewayToken(String configToken, Map<String, String> env) {
        return resolveToken(configToken, env, ENV_GATEWAY_ADMIN_TOKEN);
    }

    /**
     * The decision for one request.
     *
     * @param allowed whether the request may proceed
     * @param rawQuery the query to route with: {@code token} fields removed on a query-token API, else unchanged
     * @param rejection the 401 to send when not allowed, else null
     */
    public record Result(boolean allowed, String rawQuery, PrpcResponse rejection) {
        @Override
        public String toString() {
            return "AdminAuth.Result[" + (allowed ? "allowed" : "rejected") + "]"; // the query may hold a token
        }
    }

    /** Whether requests are checked at all ({@code false} only with {@code insecureNoAuth}). */
    public boolean enabled() {
        return enabled;
    }

    public String realm() {
        return realm;
    }

    /**
     * Checks one request.
     *
     * @param httpMethod the HTTP method (case-insensitive)
     * @param headers the request headers, one value per name, names case-insensitive
     * @param rawQuery the raw query without {@code ?}, or null/empty
     */
    public Result check(String httpMethod, Map<String, String> headers, String rawQuery) {
        String query = rawQuery == null ? "" : rawQuery;
        if (!authorized(httpMethod, headers == null ? Map.of() : headers, query)) {
            PrpcResponse r = new PrpcResponse(401, null, new byte[0],
                    Map.of("WWW-Authenticate", "Basic realm=\"" + realm + "\""));
            return new Result(false, query, r);
        }
        return new Result(true, allowQueryToken ? stripTokenQuery(query) : query, null);
    }

    private boolean authorized(String httpMethod, Map<String, String> headers, String query) {
        if (!enabled) {
            return true;
        }
        String token = header(headers, tokenHeader);
        if (token != null && verifyToken(token)) {
            return true;
        }
        String authz = header(headers, "Authorization");
        if (authz != null) {
            if (authz.length() > MAX_CREDENTIAL_CHARS) {
                return false;
            }
            if (authz.startsWith("Bearer ")) {
                return verifyToken(authz.substring(7).strip());
            }
            if (authz.startsWith("Basic ")) {
                String[] up = decodeBasic(authz.substring(6).strip());
                if (up != null) {
                    return verifyBasic(up[0], up[1]);
                }
            }
        }
        if (!allowQueryToken || !"GET".equalsIgnoreCase(httpMethod) || query.isEmpty()) {
            return false;
        }
        boolean ok = false;
        for (String pair : query.split("&", -1)) {
            int eq = pair.indexOf('=');
            try {
                String k = QueryDecoder.percentDecode(eq < 0 ? pair : pair.substring(0, eq), "key");
                if (k.equals("token")) {
                    String v = QueryDecoder.percentDecode(eq < 0 ? "" : pair.substring(eq + 1), "token");
                    ok |= verifyToken(v);
                }
            } catch (StrictJson.JsonError e) {
                // an undecodable field is no token
            }
        }
        return ok;
    }

    /** The exchange attribute holding the query to route with (token fields removed) after {@link #httpFilter()}. */
    public static final String ROUTED_QUERY_ATTRIBUTE = "dev.atlas.dstack.ra.prpc.AdminAuth.query";

    /**
     * A JDK {@code HttpServer} filter for routes that are not pRPC (a VMM's UI, static files): a refused request
     * gets the 401 and goes no further; an accepted one continues with the query to route with in the exchange
     * attribute {@link #ROUTED_QUERY_ATTRIBUTE} (the JDK 17 exchange cannot change its URI). A
     * {@link PrpcHttpHandler} needs no filter: give the dispatcher this {@code AdminAuth} instead.
     */
    public com.sun.net.httpserver.Filter httpFilter() {
        return new com.sun.net.httpserver.Filter() {
            @Override
            public void doFilter(com.sun.net.httpserver.HttpExchange exchange, Chain chain) throws IOException {
                Map<String, String> headers = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
                exchange.getRequestHeaders().forEach((k, v) -> {
                    if (k != null && !v.isEmpty()) {
                        headers.putIfAbsent(k, v.get(0));
                    }
                });
                Result r = check(exchange.getRequestMethod(), headers, exchange.getRequestURI().getRawQuery());
                if (!r.allowed()) {
                    try {
                        PrpcHttpHandler.write(exchange, r.rejection(), true);
                    } finally {
                        exchange.close();
                    }
                    return;
                }
                exchange.setAttribute(ROUTED_QUERY_ATTRIBUTE, r.rawQuery());
                chain.doFilter(exchange);
            }

            @Override
            public String description() {
                return "dstack admin API authentication (" + realm + ")";
            }
        };
    }

    /** Whether {@code token} is one of the configured tokens: SHA-256, compared with every digest in constant time. */
    public boolean verifyToken(String token) {
        if (token.length() > MAX_CREDENTIAL_CHARS) {
            return false;
        }
        byte[] candidate = sha256(token.getBytes(StandardCharsets.UTF_8));
        int matched = 0;
        for (byte[] expected : tokenHashes) {
            matched |= constantTimeEquals(candidate, expected) ? 1 : 0;
        }
        return matched != 0;
    }

    /** HTTP Basic: an htpasswd user and password, or the legacy aliases {@code user:<token>} and {@code <token>:}. */
    public boolean verifyBasic(String user, String password) {
        boolean htOk = htpasswd != null && htpasswd.verify(user, password);
        return htOk || verifyToken(password) || (password.isEmpty() && verifyToken(user));
    }

    /** Constant-time equality of two byte arrays (length is not secret). */
    static boolean constantTimeEquals(byte[] a, byte[] b) {
        if (a.length != b.length) {
            return false;
        }
        int acc = 0;
        for (int i = 0; i < a.length; i++) {
            acc |= a[i] ^ b[i];
        }
        return acc == 0;
    }

    /** Removes every {@code token} field (raw key before {@code =}) and empty fields, as upstream's
     *  {@code strip_token_query}; unchanged when there is none. */
    static String stripTokenQuery(String query) {
        if (query.isEmpty()) {
            return query;
        }
        boolean found = false;
        List<String> kept = new ArrayList<>();
        for (String pair : query.split("&", -1)) {
            int eq = pair.indexOf('=');
            boolean remove = (eq < 0 ? pair : pair.substring(0, eq)).equals("token");
            found |= remove;
            if (!remove && !pair.isEmpty()) {
                kept.add(pair);
            }
        }
        return found ? String.join("&", kept) : query;
    }

    /** Canonical standard base64 (padding required) of UTF-8 {@code user[:password]}; null when not. */
    static String[] decodeBasic(String encoded) {
        if (encoded.isEmpty() || encoded.length() % 4 != 0) {
            return encoded.isEmpty() ? new String[] {"", ""} : null;
        }
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(encoded);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (!Base64.getEncoder().encodeToString(raw).equals(encoded)) {
            return null; // non-zero trailing bits: Rust's base64 STANDARD engine rejects these
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        int colon = text.indexOf(':');
        return colon < 0 ? new String[] {text, ""}
                : new String[] {text.substring(0, colon), text.substring(colon + 1)};
    }

    private static String header(Map<String, String> headers, String name) {
        String v = headers.get(name);
        if (v != null) {
            return v;
        }
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) {
                return e.getValue();
            }
        }
        return null;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    @Override
    public String toString() {
        return "AdminAuth[realm=" + realm + ", " + (enabled ? tokenHashes.size() + " token(s), htpasswd "
                + (htpasswd == null ? "none" : htpasswd.size() + " user(s)") : "INSECURE no auth")
                + ", queryToken=" + allowQueryToken + "]";
    }

    public static final class Builder {
        private final List<byte[]> tokenHashes = new ArrayList<>();
        private Htpasswd htpasswd;
        private String realm;
        private String tokenHeader = TOKEN_HEADER;
        private boolean allowQueryToken;
        private boolean insecureNoAuth;

        private Builder(String realm, boolean allowQueryToken) {
            this.realm = realm;
            this.allowQueryToken = allowQueryToken;
        }

        /** Adds a token; only its SHA-256 is kept. An empty token is ignored (as upstream's {@code from_tokens}). */
        public Builder token(String token) {
            Objects.requireNonNull(token, "token");
            if (!token.isEmpty()) {
                tokenHashes.add(sha256(token.getBytes(StandardCharsets.UTF_8)));
            }
            return this;
        }

        /** Adds tokens ({@code [auth] tokens} of the VMM); empty ones are ignored. */
        public Builder tokens(Iterable<String> tokens) {
            for (String t : tokens) {
                token(t);
            }
            return this;
        }

        /** Adds a token given as its SHA-256 digest (32 bytes), as the KMS's {@code admin_token_hash}. */
        public Builder tokenSha256(byte[] digest) {
            if (digest == null || digest.length != 32) {
                throw new IllegalArgumentException("token digest must be 32 bytes (SHA-256), got "
                        + (digest == null ? "null" : digest.length));
            }
            tokenHashes.add(digest.clone());
            return this;
        }

        /**
         * Reads an htpasswd file now (once; a later change of the file needs a new {@code AdminAuth}).
         *
         * @throws IOException when it cannot be read
         * @throws IllegalArgumentException when an entry is not bcrypt, a line is malformed, a user is listed twice
         *         or there is no user; the message names the file and the line
         */
        public Builder htpasswdFile(Path file) throws IOException {
            Objects.requireNonNull(file, "file");
            byte[] data;
            try (InputStream in = Files.newInputStream(file)) {
                data = in.readNBytes(Htpasswd.MAX_BYTES + 1);
            }
            this.htpasswd = Htpasswd.parse(data, file.toString());
            return this;
        }

        /** htpasswd entries given as text; {@code source} names them in errors. */
        public Builder htpasswd(String contents, String source) {
            this.htpasswd = Htpasswd.parse(contents.getBytes(StandardCharsets.UTF_8), source);
            return this;
        }

        /** The Basic realm of the 401 answer. */
        public Builder realm(String realm) {
            Objects.requireNonNull(realm, "realm");
            if (realm.indexOf('"') >= 0 || realm.chars().anyMatch(c -> c < 0x20 || c >= 0x7f)) {
                throw new IllegalArgumentException("realm must be printable ASCII without '\"'");
            }
            this.realm = realm;
            return this;
        }

        /** The custom token header (default {@value AdminAuth#TOKEN_HEADER}). */
        public Builder tokenHeader(String name) {
            this.tokenHeader = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Whether a GET may carry {@code ?token=} (VMM and gateway: yes; KMS: no). */
        public Builder allowQueryToken(boolean allow) {
            this.allowQueryToken = allow;
            return this;
        }

        /** Turns authentication off: every request is accepted. For tests only. */
        public Builder insecureNoAuth(boolean insecure) {
            this.insecureNoAuth = insecure;
            return this;
        }

        /**
         * @throws IllegalStateException when authentication is on with neither a token nor an htpasswd file (fail
         *         closed: upstream's gateway and KMS refuse to start; its VMM would refuse every request)
         */
        public AdminAuth build() {
            if (!insecureNoAuth && tokenHashes.isEmpty() && htpasswd == null) {
                throw new IllegalStateException("admin API authentication is enabled but neither a token nor an "
                        + "htpasswd file is configured; set a token (config, " + ENV_GATEWAY_ADMIN_TOKEN + " / "
                        + ENV_KMS_ADMIN_TOKEN + " / " + ENV_ADMIN_API_TOKEN + "), an htpasswd file, or "
                        + "insecureNoAuth (testing only)");
            }
            return new AdminAuth(this);
        }
    }
}
