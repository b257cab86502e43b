package dev.atlas.tdx;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Checks;
import dev.atlas.tdx.internal.Der;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Json;
import dev.atlas.tdx.internal.Pem;
import dev.atlas.tdx.internal.PercentDecoder;
import dev.atlas.tdx.internal.Pki;
import dev.atlas.tdx.internal.RawJson;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Fetches the collateral a quote needs from an Intel PCS or a PCCS (API v4), over {@code java.net.http}.
 *
 * <p>What it fetches (docs/dcap-semantics.md, "Collateral retrieval"): the PCK CRL, TCB info and QE
 * identity for the quote's FMSPC, CA type and TEE, and the root CA CRL (PCCS {@code /rootcacrl}, or the
 * root certificate's CRL distribution point for Intel PCS or when that fails). The signed {@code tcbInfo}
 * and {@code enclaveIdentity} texts are cut out of the response bodies verbatim; issuer-chain headers are
 * percent-decoded ({@code %XX} only, {@code +} kept). Every request has a deadline covering the whole
 * response, and every body a size limit. Fetched collateral is not trusted: verify it with
 * {@link QuoteVerifier}. Immutable and thread-safe.
 */
public final class CollateralClient {
    /** Phala's public PCCS. */
    public static final String PHALA_PCCS_URL = "https://pccs.phala.network";
    /** Intel's PCS. */
    public static final String INTEL_PCS_URL = "https://api.trustedservices.intel.com";

    private final String baseUrl;
    private final HttpClient http;
    private final Duration requestTimeout;
    private final Duration connectTimeout;
    private final int maxResponseBytes;

    private CollateralClient(Builder b) {
        this.baseUrl = normalizeBaseUrl(b.baseUrl);
        this.requestTimeout = b.requestTimeout;
        this.connectTimeout = b.connectTimeout;
        this.maxResponseBytes = b.maxResponseBytes;
        this.http = b.httpClient != null ? b.httpClient : HttpClient.newBuilder()
                .connectTimeout(b.connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The normalized base URL (no trailing slash, no {@code /sgx|tdx/certification/v4}). */
    public String baseUrl() {
        return baseUrl;
    }

    static String normalizeBaseUrl(String url) {
        String u = url;
        if (u.endsWith("/")) {
            u = u.substring(0, u.length() - 1);
        }
        for (String suffix : new String[] {"/sgx/certification/v4", "/tdx/certification/v4"}) {
            if (u.endsWith(suffix)) {
                u = u.substring(0, u.length() - suffix.length());
            }
        }
        URI uri = URI.create(u);
        if (uri.getScheme() == null || !(uri.getScheme().equals("https") || uri.getScheme().equals("http"))
                || uri.getHost() == null) {
            throw new IllegalArgumentException("collateral base URL must be an absolute http(s) URL: " + url);
        }
        return u;
    }

    /** Which PCK CA issued the leaf ({@code processor} or {@code platform}), from its issuer DN. */
    public static String caType(X509Certificate pckLeaf) {
        String issuer = pckLeaf.getIssuerX500Principal().getName();
        if (issuer.contains("Processor")) {
            return "processor";
        }
        if (issuer.contains("Platform")) {
            return "platform";
        }
        return "processor";
    }

    /**
     * Fetches the collateral for {@code quote}. Only quotes that carry their PCK chain (certification data
     * type 5) are supported (types 2/3 would need the PCK certificate endpoint); the chain stays in the quote,
     * so the returned collateral has no {@code pck_certificate_chain}.
     *
     * @throws AttestationException {@link Reason#COLLATERAL_FETCH_FAILED}, or the quote's decoding reason
     */
    public Collateral fetch(Quote quote) throws AttestationException {
        Target t = target(quote);
        return fetch(t.fmspc(), t.caType(), t.tee());
    }

    /**
     * The {@link CollateralCache} key under which {@link #fetch(Quote)}'s result for {@code quote} belongs
     * (this client's base URL, the PCK certificate's FMSPC and CA type, the TEE).
     *
     * @throws AttestationException as {@link #fetch(Quote)} for quotes it cannot fetch collateral for
     */
    public CollateralCache.Key cacheKey(Quote quote) throws AttestationException {
        Target t = target(quote);
        return new CollateralCache.Key(baseUrl, t.fmspc(), t.caType(), t.tee());
    }

    /** What collateral a quote needs: from its PCK leaf (FMSPC, issuing CA) and its header (TEE). */
    private record Target(String fmspc, String caType, TeeType tee) { }

    private static Target target(Quote quote) throws AttestationException {
        CertificationData cd = quote.certificationData();
        if (cd.type() != CertificationData.TYPE_PCK_CERT_CHAIN) {
            throw new AttestationException(Reason.UNSUPPORTED_CERTIFICATION_DATA, "certification data type " + cd.type()
                    + ": only quotes carrying their PCK chain (type 5) can be used to fetch collateral");
        }
        List<X509Certificate> chain = Pki.parseChain(cd.bodyAsText(), Reason.MALFORMED_QUOTE, "the quote's PCK chain");
        if (chain.isEmpty()) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Certificate chain is too short in quote");
        }
        PckExtension ext = PckExtension.fromCertificate(chain.get(0));
        TeeType tee = quote.header().teeTypeCode() == 0 ? TeeType.SGX : TeeType.TDX;
        return new Target(ext.fmspc(), caType(chain.get(0)), tee);
    }

    /** Fetches collateral for an FMSPC (12 hex chars), CA type and TEE, without a PCK chain. */
    public Collateral fetch(String fmspc, String caType, TeeType tee) throws AttestationException {
        if (fmspc == null || fmspc.length() != 12 || !Hex.isHex(fmspc)) {
            throw new IllegalArgumentException("FMSPC must be 12 hex characters");
        }
        if (!"processor".equals(caType) && !"platform".equals(caType)) {
            throw new IllegalArgumentException("CA type must be processor or platform");
        }
        String fm = fmspc.toUpperCase(Locale.ROOT);
        String teePath = tee == TeeType.SGX ? "sgx" : "tdx";

        Response pckCrl = get(baseUrl + "/sgx/certification/v4/pckcrl?ca=" + caType + "&encoding=der");
        String pckCrlChain = header(pckCrl, "SGX-PCK-CRL-Issuer-Chain");

        Response tcb = get(baseUrl + "/" + teePath + "/certification/v4/tcb?fmspc=" + fm);
        String tcbChain = header(tcb, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain");
        String tcbBody = tcb.text();
        String tcbInfo = member(tcbBody, "tcbInfo", tcb.url());
        byte[] tcbSig = signature(tcbBody, tcb.url());

        Response qe = get(baseUrl + "/" + teePath + "/certification/v4/qe/identity?update=standard");
        String qeChain = header(qe, "SGX-Enclave-Identity-Issuer-Chain");
        String qeBody = qe.text();
        String qeIdentity = member(qeBody, "enclaveIdentity", qe.url());
        byte[] qeSig = signature(qeBody, qe.url());

        byte[] rootCrl = rootCaCrl(qeChain);
        return Collateral.builder()
                .pckCrlIssuerChain(pckCrlChain)
                .rootCaCrl(rootCrl)
                .pckCrl(pckCrl.body())
                .tcbInfoIssuerChain(tcbChain)
                .tcbInfo(tcbInfo)
                .tcbInfoSignature(tcbSig)
                .qeIdentityIssuerChain(qeChain)
                .qeIdentity(qeIdentity)
                .qeIdentitySignature(qeSig)
                .build();
    }

    private byte[] rootCaCrl(String qeChain) throws AttestationException {
        AttestationException pccsFailure = null;
        if (!baseUrl.startsWith(INTEL_PCS_URL)) {
            try {
                Response r = get(baseUrl + "/sgx/certification/v4/rootcacrl");
                String text = r.text().trim();
                return Hex.isHex(text) && !text.isEmpty() ? Hex.decode(text) : r.body();
            } catch (AttestationException e) {
                pccsFailure = e;
            }
        }
        List<byte[]> certs = Pem.decodeAll(qeChain);
        if (certs.isEmpty()) {
            throw fetchFailed("root CA CRL: the QE identity issuer chain is empty", pccsFailure);
        }
        String uri;
        try {
            uri = crlDistributionPoint(Pki.parseCertificate(certs.get(certs.size() - 1)));
        } catch (java.security.cert.CertificateException | IllegalArgumentException e) {
            throw fetchFailed("root CA CRL: cannot read the root's CRL distribution point: " + e.getMessage(), e);
        }
        return get(uri).body();
    }

    /** The first URI of a certificate's CRL distribution points extension. */
    static String crlDistributionPoint(X509Certificate c) {
        byte[] ext = c.getExtensionValue("2.5.29.31");
        if (ext == null) {
            throw new IllegalArgumentException("no CRL distribution point");
        }
        Der.Tlv seq = Der.readSingle(Der.readSingle(ext).content());
        for (Der.Tlv dp : seq.children()) {
            for (Der.Tlv dpName : dp.children()) {
                if (dpName.tag != 0xa0) {
                    continue;
                }
                for (Der.Tlv full : dpName.children()) {
                    if (full.tag != 0xa0) {
                        continue;
                    }
                    for (Der.Tlv gn : full.children()) {
                        if (gn.tag == 0x86) {
                            return new String(gn.content(), StandardCharsets.US_ASCII);
                        }
                    }
                }
            }
        }
        throw new IllegalArgumentException("no URI in the CRL distribution point");
    }

    private static String member(String body, String name, String url) throws AttestationException {
        try {
            return RawJson.member(body, name);
        } catch (IllegalArgumentException e) {
            throw fetchFailed("malformed body from " + url + ": " + e.getMessage(), e);
        }
    }

    private static byte[] signature(String body, String url) throws AttestationException {
        try {
            JsonNode n = Json.parse(body, Integer.MAX_VALUE);
            return Json.hex(n, "signature", 64, "body");
        } catch (IllegalArgumentException e) {
            throw fetchFailed("malformed body from " + url + ": " + e.getMessage(), e);
        }
    }

    private static String header(Response r, String... names) throws AttestationException {
        for (String n : names) {
            java.util.Optional<String> v = r.headers().firstValue(n);
            if (v.isPresent()) {
                try {
                    return PercentDecoder.decode(v.get());
                } catch (IllegalArgumentException e) {
                    throw fetchFailed("header " + n + " from " + r.url() + ": " + e.getMessage(), e);
                }
            }
        }
        throw fetchFailed("response from " + r.url() + " has no " + String.join(" or ", names) + " header", null);
    }

    private static AttestationException fetchFailed(String msg, Throwable cause) {
        return new AttestationException(Reason.COLLATERAL_FETCH_FAILED, msg, cause);
    }

    /** One HTTP response: where it came from, its headers and body. */
    private record Response(String url, java.net.http.HttpHeaders headers, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private Response get(String url) throws AttestationException {
        HttpRequest req;
        try {
            req = HttpRequest.newBuilder(URI.create(url)).timeout(requestTimeout).GET().build();
        } catch (IllegalArgumentException e) {
            throw fetchFailed("invalid URL " + url, e);
        }
        CompletableFuture<HttpResponse<byte[]>> f = http.sendAsync(req, info -> new LimitedBody(maxResponseBytes));
        HttpResponse<byte[]> resp;
        try {
            resp = f.get(requestTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw fetchFailed("Failed to fetch " + url + ": no complete response within " + seconds(requestTimeout), e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw fetchFailed("Failed to fetch " + url + ": interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw fetchFailed("Failed to fetch " + url + ": " + describe(c, req.uri()), c);
        }
        if (resp.statusCode() < 200 || resp.statusCode() > 299) {
            throw fetchFailed("Failed to fetch " + url + ": HTTP " + resp.statusCode(), null);
        }
        return new Response(url, resp.headers(), resp.body());
    }

    /**
     * The problem in words, naming {@code host:port}: the JDK's HTTP client reports a refused connection as a
     * {@code ConnectException} without a message, and a TLS handshake with a plain-HTTP port as an SSL error
     * about an "unrecognized SSL message".
     */
    private String describe(Throwable c, URI uri) {
        String host = uri.getHost() == null ? "?" : uri.getHost();
        int port = uri.getPort() != -1 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
        String where = (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
        boolean tls = "https".equalsIgnoreCase(uri.getScheme());
        for (Throwable t = c; t != null; t = t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage();
            if (t instanceof java.nio.channels.UnresolvedAddressException || t instanceof java.net.UnknownHostException) {
                return "cannot connect to " + where + ": unknown host (the name does not resolve)";
            }
            if (t instanceof java.net.NoRouteToHostException) {
                return "cannot connect to " + where + ": no route to host";
            }
            if (t instanceof javax.net.ssl.SSLException && (m.contains("Unsupported or unrecognized SSL message")
                    || m.contains("plaintext connection"))) {
                return "the server at " + where + " did not answer TLS (is it a plain-HTTP port? then the URL"
                        + " should start with http://)";
            }
        }
        if (c instanceof java.net.http.HttpConnectTimeoutException) {
            return tls ? "the server at " + where + " did not complete the connection and TLS handshake within "
                    + seconds(connectTimeout) + " (it sent nothing: a firewall, or not a TLS port?)"
                    : "cannot connect to " + where + ": timed out after " + seconds(connectTimeout);
        }
        if (c instanceof java.net.http.HttpTimeoutException) {
            return "the server at " + where + " sent no complete response within " + seconds(requestTimeout);
        }
        if (c instanceof java.net.ConnectException) {
            String m = c.getMessage() == null ? "" : c.getMessage();
            return m.isEmpty() || m.toLowerCase(Locale.ROOT).contains("refused")
                    ? "cannot connect to " + where + ": connection refused (nothing listens there; check the URL)"
                    : "cannot connect to " + where + ": " + m;
        }
        if (c instanceof javax.net.ssl.SSLException) {
            return "TLS with " + where + " failed: " + (c.getMessage() == null ? "no detail" : c.getMessage());
        }
        return c.getMessage() != null ? c.getMessage() : "I/O error with " + where + " (no detail)";
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** Collects a body up to a limit; a larger body fails and cancels the stream. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int limit;
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final List<ByteBuffer> parts = new ArrayList<>();
        private int size;
        private Flow.Subscription subscription;

        LimitedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                size += b.remaining();
                if (size > limit) {
                    result.completeExceptionally(new java.io.IOException("response body exceeds " + limit + " bytes"));
                    subscription.cancel();
                    return;
                }
                parts.add(b);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            byte[] out = new byte[size];
            int off = 0;
            for (ByteBuffer b : parts) {
                int n = b.remaining();
                b.get(out, off, n);
                off += n;
            }
            result.complete(out);
        }
    }

    /** Builder. Defaults: Phala's PCCS, 5 s connect timeout, 15 s per request, 2 MiB per response. */
    public static final class Builder {
        private String baseUrl = PHALA_PCCS_URL;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration requestTimeout = Duration.ofSeconds(15);
        private int maxResponseBytes = 2 << 20;
        private HttpClient httpClient;

        private Builder() {}

        /** PCCS or PCS base URL; a trailing {@code /sgx|tdx/certification/v4} is accepted and stripped. */
        public Builder baseUrl(String url) {
            normalizeBaseUrl(Objects.requireNonNull(url, "url"));
            this.baseUrl = url;
            return this;
        }

        public Builder connectTimeout(Duration d) {
            this.connectTimeout = positive(d, "connectTimeout");
            return this;
        }

        /** Deadline for each request, covering the whole response body. */
        public Builder requestTimeout(Duration d) {
            this.requestTimeout = positive(d, "requestTimeout");
            return this;
        }

        public Builder maxResponseBytes(int n) {
            this.maxResponseBytes = Checks.positive(n, "maxResponseBytes");
            return this;
        }

        /** Use this client (for proxies or custom TLS); its own timeouts then apply to connecting. */
        public Builder httpClient(HttpClient c) {
            this.httpClient = Objects.requireNonNull(c);
            return this;
        }

        private static Duration positive(Duration d, String name) {
            return Checks.positive(d, name);
        }

        public CollateralClient build() {
            return new CollateralClient(this);
        }
    }
}
