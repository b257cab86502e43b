package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The ZT-domain certbot's state (what dstack keeps in WaveKV's persistent store, {@code gateway/src/kv/mod.rs}): DNS
 * credentials and the default one, ZT-domain configurations, the global certbot settings, the shared ACME account,
 * each domain's current certificate and the attestations of every key ever issued, and the account's attestation.
 *
 * <p>One node, so one file: {@code <[core.sync] data_dir>/zt-state.json} (mode 0600: it holds the DNS API tokens, the
 * ACME account key and the certificate keys), replaced atomically after every change and read strictly at start
 * (at most {@link #MAX_FILE_BYTES}, strict UTF-8, no duplicate keys, no trailing bytes, every field typed, unknown
 * fields refused, each error naming the field). A change is applied to memory only once it is on disk.
 */
public final class ZtStore {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.certbot");
    /** The file name under {@code data_dir}. */
    public static final String FILE = "zt-state.json";
    /** Largest state file read. */
    public static final int MAX_FILE_BYTES = 16 << 20;
    static final int VERSION = 1;
    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(JsonParser.Feature.ALLOW_COMMENTS)
            .build();

    /** A DNS API credential ({@code kv::DnsCredential}); Cloudflare is the only provider, as in dstack. */
    public record DnsCredential(String id, String name, String apiToken, Optional<String> apiUrl, int dnsTxtTtl,
            long maxDnsWaitSecs, long createdAt, long updatedAt) {
        public DnsCredential {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(apiToken, "apiToken");
            Objects.requireNonNull(apiUrl, "apiUrl");
        }

        /** dstack's {@code redact_token}: up to 8 characters all {@code *}, else the first and last four. */
        public String redactedToken() {
            return redact(apiToken);
        }

        public static String redact(String token) {
            int n = token.length();
            return n <= 8 ? "*".repeat(n) : token.substring(0, 4) + "..." + token.substring(n - 4);
        }

        @Override
        public String toString() {
            return "DnsCredential[id=" + id + ", name=" + name + ", api_token=" + redactedToken() + ", api_url="
                    + apiUrl.orElse("(default)") + "]";
        }
    }

    /** A ZT-domain ({@code kv::ZtDomainConfig}): the certificate is {@code *.<domain>}. */
    public record Domain(String domain, Optional<String> dnsCredId, int port, Optional<Long> node, int priority) {
        public Domain {
            Objects.requireNonNull(domain, "domain");
            Objects.requireNonNull(dnsCredId, "dnsCredId");
            Objects.requireNonNull(node, "node");
        }
    }

    /** {@code kv::GlobalCertbotConfig}, with dstack's defaults. */
    public record Settings(long renewIntervalSecs, long renewBeforeExpirationSecs, long renewTimeoutSecs,
            String acmeUrl) {
        /** 12 h, 30 days, 5 min, empty (Let's Encrypt production) — {@code kv/mod.rs}. */
        public static final Settings DEFAULT = new Settings(12 * 3600, 30 * 86400, 300, "");

        public Settings {
            Objects.requireNonNull(acmeUrl, "acmeUrl");
        }
    }

    /** The shared ACME account: the directory it lives in, its URI and the certbot engine's credentials JSON. */
    public record Account(String acmeUrl, String accountUri, String credentialsJson) {
        public Account {
            Objects.requireNonNull(acmeUrl, "acmeUrl");
            Objects.requireNonNull(accountUri, "accountUri");
            Objects.requireNonNull(credentialsJson, "credentialsJson");
        }

        @Override
        public String toString() {
            return "Account[acme_url=" + acmeUrl + ", account_uri=" + accountUri + "]";
        }
    }

    /** A domain's current certificate ({@code kv::CertData}); times in epoch seconds. */
    public record Cert(String chainPem, String keyPem, long notAfter, long issuedBy, long issuedAt) {
        public Cert {
            Objects.requireNonNull(chainPem, "chainPem");
            Objects.requireNonNull(keyPem, "keyPem");
        }

        @Override
        public String toString() {
            return "Cert[not_after=" + notAfter + ", issued_by=" + issuedBy + ", issued_at=" + issuedAt + "]";
        }
    }

    /** The quote of a certificate key ({@code kv::CertAttestation}) or of the account ({@code AcmeAttestation}). */
    public record Attestation(byte[] subject, String quote, String attestation, long generatedBy, long generatedAt) {
        public Attestation {
            subject = subject.clone();
            Objects.requireNonNull(quote, "quote");
            Objects.requireNonNull(attestation, "attestation");
        }

        @Override
        public byte[] subject() {
            return subject.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Attestation a && Arrays.equals(subject, a.subject) && quote.equals(a.quote)
                    && attestation.equals(a.attestation) && generatedBy == a.generatedBy
                    && generatedAt == a.generatedAt;
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(subject) * 31 + quote.hashCode();
        }

        @Override
        public String toString() {
            return "Attestation[subject=" + HEX.formatHex(subject) + ", generated_at=" + generatedAt + "]";
        }
    }

    /**
     * The whole state, immutable.
     *
     * @param attestations per domain, newest last
     * @param accountAttestation the account's quote: {@code subject} is the account URI in UTF-8
     */
    public record State(Map<String, DnsCredential> credentials, Optional<String> defaultCredential,
            Map<String, Domain> domains, Settings settings, Optional<Account> account,
            Optional<Attestation> accountAttestation, Map<String, Cert> certs,
            Map<String, List<Attestation>> attestations) {
        public static final State EMPTY = new State(Map.of(), Optional.empty(), Map.of(), Settings.DEFAULT,
                Optional.empty(), Optional.empty(), Map.of(), Map.of());

        public State {
            credentials = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(credentials));
            Objects.requireNonNull(defaultCredential, "defaultCredential");
            domains = java.util.Collections.unmodifiableMap(new TreeMap<>(domains));
            Objects.requireNonNull(settings, "settings");
            Objects.requireNonNull(account, "account");
            Objects.requireNonNull(accountAttestation, "accountAttestation");
            certs = Map.copyOf(certs);
            Map<String, List<Attestation>> a = new TreeMap<>();
            attestations.forEach((k, v) -> a.put(k, List.copyOf(v)));
            attestations = java.util.Collections.unmodifiableMap(a);
        }

        public State withCredentials(Map<String, DnsCredential> c, Optional<String> dflt) {
            return new State(c, dflt, domains, settings, account, accountAttestation, certs, attestations);
        }

        public State withDomains(Map<String, Domain> d) {
            return new State(credentials, defaultCredential, d, settings, account, accountAttestation, certs,
                    attestations);
        }

        public State withSettings(Settings s) {
            return new State(credentials, defaultCredential, domains, s, account, accountAttestation, certs,
                    attestations);
        }

        public State withAccount(Optional<Account> a, Optional<Attestation> att) {
            return new State(credentials, defaultCredential, domains, settings, a, att, certs, attestations);
        }

        /** The certificate of {@code domain} replaced (or removed when empty), and {@code att} appended. */
        public State withCert(String domain, Optional<Cert> cert, Optional<Attestation> att) {
            Map<String, Cert> c = new LinkedHashMap<>(certs);
            cert.ifPresentOrElse(x -> c.put(domain, x), () -> c.remove(domain));
            Map<String, List<Attestation>> a = new LinkedHashMap<>(attestations);
            if (att.isPresent()) {
                List<Attestation> l = new ArrayList<>(a.getOrDefault(domain, List.of()));
                l.add(att.get());
                a.put(domain, l);
            }
            return new State(credentials, defaultCredential, domains, settings, account, accountAttestation, c, a);
        }
    }

    /** A change of the state that may refuse with its own exception. */
    @FunctionalInterface
    public interface Change<E extends Exception> {
        State apply(State s) throws E;
    }

    private final Optional<Path> file;
    private volatile State state;

    private ZtStore(Optional<Path> file, State state) {
        this.file = file;
        this.state = state;
    }

    /** A store in memory only (tests). */
    public static ZtStore inMemory() {
        return new ZtStore(Optional.empty(), State.EMPTY);
    }

    /**
     * The store of {@code dataDir}: reads {@code zt-state.json} when it exists.
     *
     * @throws RaException {@code CERTBOT_STATE_INVALID} naming the field when the file is not this format,
     *     {@code CONFIG_FILE_UNREADABLE} when it cannot be read
     */
    public static ZtStore open(Path dataDir) throws RaException {
        Path f = dataDir.resolve(FILE);
        byte[] bytes;
        try (InputStream in = Files.newInputStream(f)) {
            bytes = in.readNBytes(MAX_FILE_BYTES + 1);
        } catch (NoSuchFileException e) {
            return new ZtStore(Optional.of(f), State.EMPTY);
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.sync.data_dir", f + " cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        State s = parse(bytes, f.toString());
        LOG.log(System.Logger.Level.INFO, "certbot: loaded " + s.domains().size() + " ZT-domains, "
                + s.credentials().size() + " DNS credentials and " + s.certs().size() + " certificates from " + f);
        return new ZtStore(Optional.of(f), s);
    }

    /** The current state. */
    public State state() {
        return state;
    }

    /**
     * Applies {@code change}, writes the result, then makes it current (nothing changes when either fails).
     *
     * @return the new state
     */
    public synchronized <E extends Exception> State update(Change<E> change) throws E, RaException {
        State next = change.apply(state);
        if (next == state) {
            return next;
        }
        write(next);
        state = next;
        return next;
    }

    private void write(State s) throws RaException {
        if (file.isEmpty()) {
            return;
        }
        Path f = file.get();
        byte[] bytes = serialize(s);
        try {
            Path dir = f.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".zt-state", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try {
                Files.write(tmp, bytes);
                try {
                    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "core.sync.data_dir", "cannot write " + f + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    // --- format ----------------------------------------------------------------------------------------------------

    static byte[] serialize(State s) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", VERSION);
        ArrayNode creds = root.putArray("dns_credentials");
        for (DnsCredential c : s.credentials().values()) {
            ObjectNode o = creds.addObject();
            o.put("id", c.id());
            o.put("name", c.name());
            ObjectNode p = o.putObject("provider");
            p.put("type", "cloudflare");
            p.put("api_token", c.apiToken());
            c.apiUrl().ifPresent(u -> p.put("api_url", u));
            o.put("dns_txt_ttl", c.dnsTxtTtl());
            o.put("max_dns_wait", c.maxDnsWaitSecs());
            o.put("created_at", c.createdAt());
            o.put("updated_at", c.updatedAt());
        }
        s.defaultCredential().ifPresent(d -> root.put("default_dns_credential", d));
        ArrayNode domains = root.putArray("zt_domains");
        for (Domain d : s.domains().values()) {
            ObjectNode o = domains.addObject();
            o.put("domain", d.domain());
            d.dnsCredId().ifPresent(c -> o.put("dns_cred_id", c));
            o.put("port", d.port());
            d.node().ifPresent(n -> o.put("node", n));
            o.put("priority", d.priority());
        }
        ObjectNode st = root.putObject("certbot");
        st.put("renew_interval_secs", s.settings().renewIntervalSecs());
        st.put("renew_before_expiration_secs", s.settings().renewBeforeExpirationSecs());
        st.put("renew_timeout_secs", s.settings().renewTimeoutSecs());
        st.put("acme_url", s.settings().acmeUrl());
        s.account().ifPresent(a -> root.putObject("acme_account").put("acme_url", a.acmeUrl())
                .put("account_uri", a.accountUri()).put("credentials", a.credentialsJson()));
        s.accountAttestation().ifPresent(a -> {
            ObjectNode o = attestation(a, "account_uri", new String(a.subject(), StandardCharsets.UTF_8));
            root.set("acme_attestation", o);
        });
        ObjectNode certs = root.putObject("certs");
        new TreeMap<>(s.certs()).forEach((d, c) -> certs.putObject(d).put("cert_pem", c.chainPem())
                .put("key_pem", c.keyPem()).put("not_after", c.notAfter()).put("issued_by", c.issuedBy())
                .put("issued_at", c.issuedAt()));
        ObjectNode atts = root.putObject("cert_attestations");
        s.attestations().forEach((d, l) -> {
            ArrayNode arr = atts.putArray(d);
            l.forEach(a -> arr.add(attestation(a, "public_key", HEX.formatHex(a.subject()))));
        });
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode attestation(Attestation a, String subjectField, String subject) {
        ObjectNode o = JSON.createObjectNode();
        o.put(subjectField, subject);
        o.put("quote", a.quote());
        o.put("attestation", a.attestation());
        o.put("generated_by", a.generatedBy());
        o.put("generated_at", a.generatedAt());
        return o;
    }

    /**
     * Parses a state file.
     *
     * @throws RaException {@code CERTBOT_STATE_INVALID}: the field and what was expected
     */
    public static State parse(byte[] bytes, String source) throws RaException {
        if (bytes.length > MAX_FILE_BYTES) {
            throw bad(source, "(file)", "larger than " + MAX_FILE_BYTES + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw bad(source, "(file)", "not UTF-8");
        }
        JsonNode root;
        try {
            root = STRICT.readTree(text);
        } catch (IOException | RuntimeException | StackOverflowError e) {
            throw bad(source, "(file)", "not one JSON document without duplicate keys");
        }
        R r = new R(source);
        JsonNode top = r.object(root, "(root)", Set.of("version", "dns_credentials", "default_dns_credential",
                "zt_domains", "certbot", "acme_account", "acme_attestation", "certs", "cert_attestations"));
        if (r.integer(top, "version", "version", 0, Integer.MAX_VALUE) != VERSION) {
            throw bad(source, "version", "unsupported version (expected " + VERSION + ")");
        }
        Map<String, DnsCredential> creds = new LinkedHashMap<>();
        JsonNode ca = r.array(top, "dns_credentials", "dns_credentials");
        for (int i = 0; i < ca.size(); i++) {
            String f = "dns_credentials[" + i + "]";
            JsonNode o = r.object(ca.get(i), f, Set.of("id", "name", "provider", "dns_txt_ttl", "max_dns_wait",
                    "created_at", "updated_at"));
            JsonNode p = r.object(o.get("provider"), f + ".provider", Set.of("type", "api_token", "api_url"));
            if (!"cloudflare".equals(r.text(p, "type", f + ".provider.type"))) {
                throw bad(source, f + ".provider.type", "unsupported provider (expected \"cloudflare\")");
            }
            DnsCredential c = new DnsCredential(r.text(o, "id", f + ".id"), r.text(o, "name", f + ".name"),
                    r.text(p, "api_token", f + ".provider.api_token"),
                    r.optText(p, "api_url", f + ".provider.api_url"),
                    (int) r.integer(o, "dns_txt_ttl", f + ".dns_txt_ttl", 1, 0xffff_ffffL >>> 1),
                    r.integer(o, "max_dns_wait", f + ".max_dns_wait", 1, 0xffff_ffffL),
                    r.integer(o, "created_at", f + ".created_at", 0, Long.MAX_VALUE),
                    r.integer(o, "updated_at", f + ".updated_at", 0, Long.MAX_VALUE));
            if (creds.put(c.id(), c) != null) {
                throw bad(source, f + ".id", "duplicate id");
            }
        }
        Optional<String> dflt = r.optText(top, "default_dns_credential", "default_dns_credential");
        if (dflt.isPresent() && !creds.containsKey(dflt.get())) {
            throw bad(source, "default_dns_credential", "names no credential");
        }
        Map<String, Domain> domains = new TreeMap<>();
        JsonNode da = r.array(top, "zt_domains", "zt_domains");
        for (int i = 0; i < da.size(); i++) {
            String f = "zt_domains[" + i + "]";
            JsonNode o = r.object(da.get(i), f, Set.of("domain", "dns_cred_id", "port", "node", "priority"));
            String name = r.text(o, "domain", f + ".domain");
            try {
                if (!ZtDomains.normalize(name).equals(name)) {
                    throw bad(source, f + ".domain", "not a normalized domain");
                }
            } catch (IllegalArgumentException e) {
                throw bad(source, f + ".domain", e.getMessage());
            }
            Optional<String> cred = r.optText(o, "dns_cred_id", f + ".dns_cred_id");
            if (cred.isPresent() && !creds.containsKey(cred.get())) {
                throw bad(source, f + ".dns_cred_id", "names no credential");
            }
            Optional<Long> node = o.has("node") ? Optional.of(r.integer(o, "node", f + ".node", 0, 0xffff_ffffL))
                    : Optional.empty();
            Domain d = new Domain(name, cred, (int) r.integer(o, "port", f + ".port", 1, 65535), node,
                    (int) r.integer(o, "priority", f + ".priority", Integer.MIN_VALUE, Integer.MAX_VALUE));
            if (domains.put(name, d) != null) {
                throw bad(source, f + ".domain", "duplicate domain");
            }
        }
        JsonNode so = r.object(top.get("certbot"), "certbot", Set.of("renew_interval_secs",
                "renew_before_expiration_secs", "renew_timeout_secs", "acme_url"));
        Settings settings = new Settings(
                r.integer(so, "renew_interval_secs", "certbot.renew_interval_secs", 0, Long.MAX_VALUE),
                r.integer(so, "renew_before_expiration_secs", "certbot.renew_before_expiration_secs", 0,
                        Long.MAX_VALUE),
                r.integer(so, "renew_timeout_secs", "certbot.renew_timeout_secs", 0, Long.MAX_VALUE),
                r.text(so, "acme_url", "certbot.acme_url"));
        Optional<Account> account = Optional.empty();
        if (top.has("acme_account")) {
            JsonNode a = r.object(top.get("acme_account"), "acme_account", Set.of("acme_url", "account_uri",
                    "credentials"));
            account = Optional.of(new Account(r.text(a, "acme_url", "acme_account.acme_url"),
                    r.text(a, "account_uri", "acme_account.account_uri"),
                    r.text(a, "credentials", "acme_account.credentials")));
        }
        Optional<Attestation> accountAtt = Optional.empty();
        if (top.has("acme_attestation")) {
            accountAtt = Optional.of(r.attestation(top.get("acme_attestation"), "acme_attestation", "account_uri"));
        }
        Map<String, Cert> certs = new TreeMap<>();
        JsonNode co = r.object(top.get("certs"), "certs", null);
        for (var it = co.fields(); it.hasNext(); ) {
            var e = it.next();
            String f = "certs." + r.domainKey(e.getKey(), "certs");
            JsonNode o = r.object(e.getValue(), f, Set.of("cert_pem", "key_pem", "not_after", "issued_by",
                    "issued_at"));
            certs.put(e.getKey(), new Cert(r.text(o, "cert_pem", f + ".cert_pem"), r.text(o, "key_pem",
                    f + ".key_pem"), r.integer(o, "not_after", f + ".not_after", 0, Long.MAX_VALUE),
                    r.integer(o, "issued_by", f + ".issued_by", 0, 0xffff_ffffL),
                    r.integer(o, "issued_at", f + ".issued_at", 0, Long.MAX_VALUE)));
        }
        Map<String, List<Attestation>> atts = new TreeMap<>();
        JsonNode ao = r.object(top.get("cert_attestations"), "cert_attestations", null);
        for (var it = ao.fields(); it.hasNext(); ) {
            var e = it.next();
            String f = "cert_attestations." + r.domainKey(e.getKey(), "cert_attestations");
            JsonNode arr = r.array(ao, e.getKey(), f);
            List<Attestation> l = new ArrayList<>();
            for (int i = 0; i < arr.size(); i++) {
                l.add(r.attestation(arr.get(i), f + "[" + i + "]", "public_key"));
            }
            atts.put(e.getKey(), l);
        }
        return new State(creds, dflt, domains, settings, account, accountAtt, certs, atts);
    }

    private static boolean wellFormed(String t) {
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= t.length() || !Character.isLowSurrogate(t.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    private static RaException bad(String source, String field, String why) {
        return new RaException(Reason.CERTBOT_STATE_INVALID, field, source + ": " + why);
    }

    /** Typed reads naming the field. */
    private record R(String source) {
        JsonNode object(JsonNode n, String f, Set<String> allowed) throws RaException {
            if (n == null || !n.isObject()) {
                throw bad(source, f, "expected an object");
            }
            if (allowed != null) {
                for (var it = n.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    if (!allowed.contains(k)) {
                        throw bad(source, f + "." + k, "unknown field");
                    }
                }
            }
            return n;
        }

        JsonNode array(JsonNode o, String k, String f) throws RaException {
            JsonNode n = o.get(k);
            if (n == null || !n.isArray()) {
                throw bad(source, f, "expected an array");
            }
            return n;
        }

        String text(JsonNode o, String k, String f) throws RaException {
            JsonNode n = o.get(k);
            if (n == null || !n.isTextual()) {
                throw bad(source, f, "expected a string");
            }
            if (!wellFormed(n.textValue())) {
                throw bad(source, f, "not valid Unicode (unpaired surrogate)");
            }
            return n.textValue();
        }

        String domainKey(String k, String f) throws RaException {
            try {
                if (ZtDomains.normalize(k).equals(k)) {
                    return k;
                }
            } catch (IllegalArgumentException e) {
                // refused below
            }
            throw bad(source, f, "not a normalized domain");
        }

        Optional<String> optText(JsonNode o, String k, String f) throws RaException {
            return o.has(k) ? Optional.of(text(o, k, f)) : Optional.empty();
        }

        long integer(JsonNode o, String k, String f, long min, long max) throws RaException {
            JsonNode n = o.get(k);
            if (n == null || !n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < min
                    || n.longValue() > max) {
                throw bad(source, f, "expected an integer in " + min + ".." + max);
            }
            return n.longValue();
        }

        Attestation attestation(JsonNode n, String f, String subjectField) throws RaException {
            JsonNode o = object(n, f, Set.of(subjectField, "quote", "attestation", "generated_by", "generated_at"));
            String subject = text(o, subjectField, f + "." + subjectField);
            byte[] s;
            if (subjectField.equals("public_key")) {
                try {
                    s = HEX.parseHex(subject);
                } catch (IllegalArgumentException e) {
                    throw bad(source, f + ".public_key", "expected hex");
                }
            } else {
                s = subject.getBytes(StandardCharsets.UTF_8);
            }
            return new Attestation(s, text(o, "quote", f + ".quote"), text(o, "attestation", f + ".attestation"),
                    integer(o, "generated_by", f + ".generated_by", 0, 0xffff_ffffL),
                    integer(o, "generated_at", f + ".generated_at", 0, Long.MAX_VALUE));
        }
    }
}
