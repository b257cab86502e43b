package dev.atlas.dstack.gateway.internal;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.ra.RaException;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * The ZT-domain wildcard certificates the proxy terminates TLS with (spec §3.2 step 4, §3.5; dstack's
 * {@code cert_store.rs}): base domain → certificate chain and key, each as two JDK-provider {@link SslContext}s
 * (without ALPN, and with ALPN {@code h2} only for the {@code g} suffix).
 *
 * <p>Sources: the static certificate of the 0.5.x layout ({@code [core.proxy] cert_chain}, {@code cert_key},
 * {@code base_domain}), re-read by {@link #reload()} and by {@link #reloadIfChanged()} when either file's size or
 * modification time changes; and {@link #put} (certbot, {@code Admin.ReloadCert}). A refused update keeps the
 * previous certificate of that domain (as dstack does). Lookups are lock-free reads of an immutable map.
 *
 * <p>Domains match exactly, without case folding, like dstack's {@code contains_wildcard}; a wildcard certificate
 * covers one label only ({@code a.example.com}, not {@code b.a.example.com} nor {@code example.com}), which the
 * first-dot split of §3.2 already implies.
 */
public final class CertStore {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway.proxy");

    /** Largest PEM accepted for a chain or a key. */
    public static final int MAX_PEM_BYTES = 256 * 1024;

    /** The static certificate of the 0.5.x layout. */
    public record StaticCert(Path certChain, Path certKey, String baseDomain) {
        public StaticCert {
            Objects.requireNonNull(certChain, "certChain");
            Objects.requireNonNull(certKey, "certKey");
            Objects.requireNonNull(baseDomain, "baseDomain");
        }
    }

    /** One installed certificate. */
    public record Entry(String domain, SslContext plain, SslContext h2, X509Certificate leaf, String source) {
        public Instant notAfter() {
            return leaf.getNotAfter().toInstant();
        }
    }

    private final List<String> protocols;
    private final Clock clock;
    private final Optional<StaticCert> staticCert;
    private final Object writeLock = new Object();
    private volatile Map<String, Entry> entries = Map.of();
    private volatile FileStamp staticStamp;

    private record FileStamp(long chainSize, long chainModified, long keySize, long keyModified) {}

    private CertStore(List<String> tlsVersions, Clock clock, Optional<StaticCert> staticCert) throws RaException {
        this.protocols = protocols(tlsVersions);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.staticCert = Objects.requireNonNull(staticCert, "staticCert");
    }

    /**
     * A store for {@code tls_versions} ({@code "1.2"}, {@code "1.3"}), loading the static certificate when one is
     * configured.
     *
     * @throws RaException {@code CONFIG_INVALID} for an unknown TLS version or a static certificate that cannot be
     *     used, {@code CONFIG_FILE_UNREADABLE} when its files cannot be read
     */
    public static CertStore create(List<String> tlsVersions, Optional<StaticCert> staticCert, Clock clock)
            throws RaException {
        CertStore store = new CertStore(tlsVersions, clock, staticCert);
        if (staticCert.isPresent()) {
            store.reload();
        }
        return store;
    }

    /**
     * The store of a loaded {@code gateway.toml}: its {@code tls_versions} and, in the 0.5.x layout, the static
     * certificate of {@code [core.proxy] cert_chain} and {@code cert_key} for {@code base_domain} (a
     * {@code base_domain} alone installs nothing).
     */
    public static CertStore fromConfig(GatewayConfig.Proxy proxy, Clock clock) throws RaException {
        boolean chain = proxy.certChain().isPresent();
        boolean key = proxy.certKey().isPresent();
        if (chain != key || (chain && proxy.baseDomain().isEmpty())) {
            throw invalid("core.proxy.cert_chain", "cert_chain and cert_key go together, with base_domain (got"
                    + (chain ? " cert_chain" : "") + (key ? " cert_key" : "")
                    + (proxy.baseDomain().isPresent() ? " base_domain" : "") + ")");
        }
        Optional<StaticCert> sc = !chain ? Optional.empty() : Optional.of(new StaticCert(
                proxy.certChain().get(), proxy.certKey().get(), proxy.baseDomain().get()));
        return create(proxy.tlsVersions(), sc, clock);
    }

    /** An empty store (no static certificate). */
    public static CertStore create(List<String> tlsVersions, Clock clock) throws RaException {
        return create(tlsVersions, Optional.empty(), clock);
    }

    /** Whether {@code baseDomain} is a ZT-domain: a wildcard certificate for it is installed. */
    public boolean hasZtDomain(String baseDomain) {
        return entries.containsKey(baseDomain);
    }

    /** The ZT-domains, sorted. */
    public List<String> ztDomains() {
        return entries.keySet().stream().sorted().toList();
    }

    /** The installed certificate of a ZT-domain. */
    public Optional<Entry> entry(String baseDomain) {
        return Optional.ofNullable(entries.get(baseDomain));
    }

    /** The TLS context for a ZT-domain: ALPN {@code h2} only when {@code h2}, else no ALPN. */
    public Optional<SslContext> sslContext(String baseDomain, boolean h2) {
        Entry e = entries.get(baseDomain);
        return e == null ? Optional.empty() : Optional.of(h2 ? e.h2() : e.plain());
    }

    /**
     * Installs (or replaces) the wildcard certificate {@code *.domain}. A refused certificate leaves the previous one
     * of that domain in place.
     *
     * @throws RaException {@code CONFIG_INVALID}: bad domain, unreadable PEM, no certificate, key not matching the
     *     leaf, leaf expired at the injected clock's now
     */
    public void put(String domain, String chainPem, String keyPem) throws RaException {
        install(domain, chainPem, keyPem, "put");
    }

    /**
     * Stops serving {@code *.domain} for new handshakes (a deleted ZT-domain); open connections keep their
     * session. The static certificate's base domain is never removed (its files are its source).
     *
     * @return whether a certificate was removed
     */
    public boolean remove(String domain) throws RaException {
        String d = normalizeDomain(domain);
        if (staticCert.isPresent() && normalizeDomain(staticCert.get().baseDomain()).equals(d)) {
            return false;
        }
        synchronized (writeLock) {
            if (!entries.containsKey(d)) {
                return false;
            }
            Map<String, Entry> next = new HashMap<>(entries);
            next.remove(d);
            entries = Map.copyOf(next);
        }
        LOG.log(System.Logger.Level.INFO, "cert_store: removed the certificate of *." + d);
        return true;
    }

    /**
     * Re-reads the static certificate files (when configured). Certificates added by {@link #put} stay.
     *
     * @throws RaException as {@link #put}, or {@code CONFIG_FILE_UNREADABLE}
     */
    public void reload() throws RaException {
        if (staticCert.isEmpty()) {
            return;
        }
        StaticCert sc = staticCert.get();
        synchronized (writeLock) {
            FileStamp stamp = stamp(sc);
            String chain = readPem(sc.certChain(), "core.proxy.cert_chain");
            String key = readPem(sc.certKey(), "core.proxy.cert_key");
            install(sc.baseDomain(), chain, key, sc.certChain().toString());
            staticStamp = stamp;
        }
    }

    /**
     * Reloads the static certificate when either file's size or modification time changed since the last load.
     *
     * @return whether a new certificate was installed
     * @throws RaException as {@link #reload()} (the previous certificate stays)
     */
    public boolean reloadIfChanged() throws RaException {
        if (staticCert.isEmpty()) {
            return false;
        }
        FileStamp now = stamp(staticCert.get());
        if (now.equals(staticStamp)) {
            return false;
        }
        reload();
        LOG.log(System.Logger.Level.INFO, "cert_store: reloaded the static certificate of *."
                + staticCert.get().baseDomain() + " from " + staticCert.get().certChain());
        return true;
    }

    /** The static certificate, when configured. */
    public Optional<StaticCert> staticCert() {
        return staticCert;
    }

    private void install(String domain, String chainPem, String keyPem, String source) throws RaException {
        String d = normalizeDomain(domain);
        if (chainPem.length() > MAX_PEM_BYTES || keyPem.length() > MAX_PEM_BYTES) {
            throw invalid("cert_chain", "PEM larger than " + MAX_PEM_BYTES + " bytes for *." + d);
        }
        List<X509Certificate> chain = parseChain(chainPem, d);
        PrivateKey key = parseKey(keyPem, d);
        X509Certificate leaf = chain.get(0);
        checkKeyMatches(key, leaf, d);
        Instant now = clock.instant();
        if (!leaf.getNotAfter().toInstant().isAfter(now)) {
            throw invalid("cert_chain", "certificate for *." + d + " is expired (not_after "
                    + leaf.getNotAfter().toInstant() + ", now " + now + ")");
        }
        SslContext plain = build(key, chain, false, d);
        SslContext h2 = build(key, chain, true, d);
        synchronized (writeLock) {
            Map<String, Entry> next = new HashMap<>(entries);
            next.put(d, new Entry(d, plain, h2, leaf, source));
            entries = Map.copyOf(next);
        }
        LOG.log(System.Logger.Level.INFO, "cert_store: installed wildcard certificate for *." + d
                + " (expires " + leaf.getNotAfter().toInstant() + ", from " + source + ")");
    }

    private SslContext build(PrivateKey key, List<X509Certificate> chain, boolean h2, String d) throws RaException {
        try {
            SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
                    .sslProvider(SslProvider.JDK)
                    .protocols(protocols)
                    .clientAuth(ClientAuth.NONE);
            if (h2) {
                b.applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.FATAL_ALERT,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.FATAL_ALERT,
                        ApplicationProtocolNames.HTTP_2));
            }
            return b.build();
        } catch (IOException | RuntimeException e) {
            throw invalid("cert_chain", "cannot build a TLS context for *." + d + ": " + e.getMessage());
        }
    }

    static List<String> protocols(List<String> tlsVersions) throws RaException {
        Objects.requireNonNull(tlsVersions, "tlsVersions");
        if (tlsVersions.isEmpty()) {
            throw invalid("core.proxy.tls_versions", "empty list; expected \"1.2\" and/or \"1.3\"");
        }
        List<String> out = new ArrayList<>();
        for (String v : tlsVersions) {
            String p = switch (v) {
                case "1.2" -> "TLSv1.2";
                case "1.3" -> "TLSv1.3";
                default -> throw invalid("core.proxy.tls_versions",
                        "unsupported TLS version \"" + v + "\"; expected \"1.2\" or \"1.3\"");
            };
            if (!out.contains(p)) {
                out.add(p);
            }
        }
        return List.copyOf(out);
    }

    private static String normalizeDomain(String domain) throws RaException {
        Objects.requireNonNull(domain, "domain");
        String d = domain.startsWith("*.") ? domain.substring(2) : domain;
        if (d.isEmpty() || d.length() > 253 || d.startsWith(".") || d.endsWith(".") || d.contains("..")
                || !d.equals(d.toLowerCase(Locale.ROOT)) || !d.chars().allMatch(CertStore::domainChar)) {
            throw invalid("base_domain", "not a lowercase DNS name: \"" + domain + "\"");
        }
        return d;
    }

    private static boolean domainChar(int c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    }

    private static List<X509Certificate> parseChain(String pem, String d) throws RaException {
        List<X509Certificate> chain = new ArrayList<>();
        try {
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
                chain.add((X509Certificate) c);
            }
        } catch (CertificateException | RuntimeException e) {
            throw invalid("cert_chain", "cannot read the certificate chain for *." + d + ": " + e.getMessage());
        }
        if (chain.isEmpty()) {
            throw invalid("cert_chain", "no certificate in the chain for *." + d);
        }
        return chain;
    }

    private static PrivateKey parseKey(String pem, String d) throws RaException {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return conv.getPrivateKey(kp.getPrivateKeyInfo());
            }
            if (o instanceof PrivateKeyInfo pki) {
                return conv.getPrivateKey(pki);
            }
        } catch (IOException | RuntimeException e) {
            // the parser's message may quote PEM content: keep it out
            throw invalid("cert_key", "cannot read the private key for *." + d + " (" + e.getClass().getSimpleName()
                    + ")");
        }
        throw invalid("cert_key", "no unencrypted private key (PKCS#8, SEC1 or PKCS#1 PEM) for *." + d);
    }

    private static void checkKeyMatches(PrivateKey key, X509Certificate leaf, String d) throws RaException {
        String alg = switch (key.getAlgorithm()) {
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw invalid("cert_key", "unsupported key algorithm " + key.getAlgorithm() + " for *." + d);
        };
        try {
            byte[] probe = "dstack-gateway cert_store key check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(leaf.getPublicKey());
            v.update(probe);
            if (v.verify(sig)) {
                return;
            }
        } catch (GeneralSecurityException | RuntimeException e) {
            // fall through: a key the leaf's public key cannot verify does not match
        }
        throw invalid("cert_key", "certificate and private key do not match for *." + d);
    }

    private static FileStamp stamp(StaticCert sc) throws RaException {
        try {
            BasicFileAttributes c = Files.readAttributes(sc.certChain(), BasicFileAttributes.class);
            BasicFileAttributes k = Files.readAttributes(sc.certKey(), BasicFileAttributes.class);
            return new FileStamp(c.size(), c.lastModifiedTime().toMillis(), k.size(), k.lastModifiedTime().toMillis());
        } catch (IOException e) {
            throw new RaException(RaException.Reason.CONFIG_FILE_UNREADABLE, "core.proxy.cert_chain",
                    "cannot stat " + sc.certChain() + " or " + sc.certKey() + ": " + e.getMessage());
        }
    }

    private static String readPem(Path file, String field) throws RaException {
        try {
            long size = Files.size(file);
            if (size > MAX_PEM_BYTES) {
                throw invalid(field, file + " is larger than " + MAX_PEM_BYTES + " bytes (" + size + ")");
            }
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new RaException(RaException.Reason.CONFIG_FILE_UNREADABLE, field,
                    "cannot read " + file + ": " + e.getClass().getSimpleName() + " " + e.getMessage());
        }
    }

    private static RaException invalid(String field, String message) {
        return new RaException(RaException.Reason.CONFIG_INVALID, field, message);
    }
}
