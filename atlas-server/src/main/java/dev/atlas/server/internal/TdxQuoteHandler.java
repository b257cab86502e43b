package dev.atlas.server.internal;

import dev.atlas.protocol.AtlsProtocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import dev.atlas.dstack.ReportData;
import dev.atlas.server.AtlsServerCall;
import dev.atlas.server.AtlsServerListener;
import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.QuoteProvider;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Quote;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SSLSession;

/**
 * {@code POST /tdx_quote} as the reference attestation service answers it (aTLS spec §2.3), with the EKM taken
 * from the TLS session that carries the request instead of an nginx header:
 * <ol>
 *   <li>{@code POST} only (405); a body of at most {@value #MAX_BODY} bytes (413);</li>
 *   <li>{@code {"nonce_hex": "<64 hex>"}}, unknown members ignored; anything else 422 with a pydantic-shaped
 *       {@code detail} list (the input is never echoed);</li>
 *   <li>EKM = exporter({@code EXPORTER-Channel-Binding}, no context, 32) of this TLS 1.3 session (400 when the
 *       session cannot give one);</li>
 *   <li>{@code report_data = SHA-512(nonce ‖ ekm)}; quote and TCB info from the provider, concurrently (500 with
 *       the reference's body when either fails);</li>
 *   <li>by default the quote must carry exactly that report data (500 otherwise: never send evidence that
 *       cannot verify);</li>
 *   <li>empty runtime digests back-filled; 200 with {@code success}, {@code quote} ({@code event_log} and
 *       {@code vm_config} as JSON strings), {@code tcb_info}, {@code timestamp}, {@code quote_type},
 *       {@code error}, in that order.</li>
 * </ol>
 */
public final class TdxQuoteHandler {
    /** Largest request body accepted. The reference client sends exactly 80 bytes. */
    public static final int MAX_BODY = AtlsProtocol.MAX_REQUEST_BODY;
    /** The RFC 9266 exporter label. */
    public static final String EXPORTER_LABEL = AtlsProtocol.EXPORTER_LABEL;

    private static final ObjectMapper STRICT = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    static {
        STRICT.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build());
    }

    private final QuoteProvider provider;
    private final Clock clock;
    private final AtlsServerListener listener;
    private final boolean checkReportData;
    private final Executor executor;

    public TdxQuoteHandler(QuoteProvider provider, Clock clock, AtlsServerListener listener, boolean checkReportData,
            Executor executor) {
        this.provider = provider;
        this.clock = clock;
        this.listener = listener;
        this.checkReportData = checkReportData;
        this.executor = executor;
    }

    /** Why a request body was refused: a pydantic error type, location and message. */
    public static final class InvalidRequest extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;
        final String[] loc;

        InvalidRequest(String type, String msg, String... loc) {
            super(msg);
            this.type = type;
            this.loc = loc;
        }

        /** The 422 body: {@code {"detail":[{"type","loc","msg"}]}}. */
        public String detailJson() {
            ObjectNode root = MAPPER.createObjectNode();
            ObjectNode d = root.putArray("detail").addObject();
            d.put("type", type);
            ArrayNode l = d.putArray("loc");
            for (String s : loc) {
                if (s.equals("0")) {
                    l.add(0);
                } else {
                    l.add(s);
                }
            }
            d.put("msg", getMessage());
            return root.toString();
        }
    }

    /**
     * The 32 nonce bytes of a {@code /tdx_quote} request body.
     *
     * @throws InvalidRequest for anything but a JSON object whose {@code nonce_hex} is a string of 64 hex
     *                        characters
     */
    public static byte[] parseNonce(byte[] body) throws InvalidRequest {
        if (body.length == 0) {
            throw new InvalidRequest("missing", "Field required", "body");
        }
        JsonNode n;
        try {
            n = STRICT.readTree(body);
        } catch (IOException | RuntimeException e) {
            throw new InvalidRequest("json_invalid", "JSON decode error", "body", "0");
        }
        if (n == null || !n.isObject()) {
            throw new InvalidRequest("model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from", "body");
        }
        JsonNode v = n.get(AtlsProtocol.NONCE_FIELD);
        if (v == null) {
            throw new InvalidRequest("missing", "Field required", "body", "nonce_hex");
        }
        if (!v.isTextual()) {
            throw new InvalidRequest("string_type", "Input should be a valid string", "body", "nonce_hex");
        }
        try {
            return AtlsProtocol.parseNonceHex(v.textValue());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequest("value_error", "Value error, nonce_hex must be exactly 64 hex characters",
                    "body", "nonce_hex");
        }
    }

    /**
     * The call of each request in flight, by exchange (identity). Not the exchange's attributes: the JDK's
     * {@code HttpExchange.setAttribute} stores into the {@code HttpContext}'s map, shared by every exchange of
     * that context, so a second request on another thread would overwrite the first one's call.
     */
    private static final java.util.concurrent.ConcurrentHashMap<HttpExchange, AtlsServerCall> CALLS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** Attaches {@code call} to {@code ex} until {@link #unbind}. */
    public static void bind(HttpExchange ex, AtlsServerCall call) {
        CALLS.put(ex, call);
    }

    /** Ends the attachment made by {@link #bind}. */
    public static void unbind(HttpExchange ex) {
        CALLS.remove(ex);
    }

    /** The call the server attached to {@code ex} (one made up, id 0, when the handler runs on its own). */
    public static AtlsServerCall call(HttpExchange ex) {
        AtlsServerCall c = CALLS.get(ex);
        if (c != null) {
            return c;
        }
        return new AtlsServerCall(0, ex.getRemoteAddress(), ex.getRequestMethod(),
                String.valueOf(ex.getRequestURI().getPath()), java.time.Instant.now());
    }

    /** Handles one exchange whose path is {@code /tdx_quote}. */
    public void handle(HttpExchange ex) throws IOException {
        long start = System.nanoTime();
        if (!"POST".equals(ex.getRequestMethod())) {
            ex.getResponseHeaders().set("Allow", "POST");
            reject(ex, 405, "{\"detail\":\"Method Not Allowed\"}", "method " + ex.getRequestMethod());
            return;
        }
        byte[] body;
        String cl = ex.getRequestHeaders().getFirst("Content-Length");
        if (cl != null && cl.chars().allMatch(Character::isDigit) && cl.length() < 12 && Long.parseLong(cl) > MAX_BODY) {
            reject(ex, 413, "{\"detail\":\"Request Entity Too Large\"}", "body of " + cl + " bytes");
            return;
        }
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(MAX_BODY + 1);
        }
        if (body.length > MAX_BODY) {
            reject(ex, 413, "{\"detail\":\"Request Entity Too Large\"}", "body over " + MAX_BODY + " bytes");
            return;
        }
        byte[] nonce;
        try {
            nonce = parseNonce(body);
        } catch (InvalidRequest e) {
            reject(ex, 422, e.detailJson(), e.type + " " + String.join(".", e.loc));
            return;
        }
        byte[] ekm = ekm(ex);
        if (ekm == null) {
            reject(ex, 400, "{\"detail\":\"Channel binding unavailable: the connection is not TLS 1.3\"}",
                    "no TLS 1.3 exporter");
            return;
        }
        byte[] reportData = ReportData.sessionBinding(nonce, ekm);
        Arrays.fill(ekm, (byte) 0);

        String json;
        listener.quoteStart(call(ex));
        try {
            json = respond(reportData);
        } catch (ProviderFailure e) {
            listener.quoteFailed(call(ex), new IOException(e.getMessage(), e.getCause()),
                    Duration.ofNanos(System.nanoTime() - start));
            send(ex, 500, "{\"detail\":{\"success\":false,\"error\":\"Failed to obtain TDX quote or TCB info\","
                    + "\"quote_type\":\"tdx\"}}");
            return;
        }
        send(ex, 200, json);
        listener.quoteEnd(call(ex), Duration.ofNanos(System.nanoTime() - start));
    }

    /** A provider failure, with the reason for logs (never sent to the client). */
    static final class ProviderFailure extends Exception {
        private static final long serialVersionUID = 1L;

        ProviderFailure(String msg, Throwable cause) {
            super(msg, cause);
        }
    }

    /** The 200 body for {@code reportData}. */
    String respond(byte[] reportData) throws ProviderFailure {
        CompletableFuture<String> tcb = new CompletableFuture<>();
        executor.execute(() -> {
            try {
                tcb.complete(provider.tcbInfo());
            } catch (Throwable t) {
                tcb.completeExceptionally(t);
            }
        });
        GetQuoteResponse q;
        try {
            q = provider.getQuote(reportData);
        } catch (IOException | RuntimeException e) {
            throw new ProviderFailure("GetQuote failed: " + e.getMessage(), e);
        }
        if (checkReportData) {
            try {
                dev.atlas.tdx.TdReport td = Quote.parse(q.quote()).tdReport();
                if (td == null) {
                    throw new ProviderFailure("the provider's quote is not a TD quote", null);
                }
                byte[] inQuote = td.reportDataBytes();
                if (!MessageDigest.isEqual(inQuote, reportData)) {
                    throw new ProviderFailure("the provider's quote does not carry the requested report data", null);
                }
            } catch (AttestationException e) {
                throw new ProviderFailure("the provider's quote does not parse: " + e.reason(), e);
            }
        }
        String tcbInfo;
        try {
            tcbInfo = tcb.get(); // the provider's own deadline bounds this
        } catch (ExecutionException e) {
            throw new ProviderFailure("Info failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProviderFailure("interrupted", e);
        }

        ObjectNode root = MAPPER.createObjectNode();
        root.put("success", true);
        ObjectNode quote = root.putObject("quote");
        quote.put("quote", q.quoteHex());
        quote.put("event_log", EventLogBackfill.backfill(q.eventLog()));
        quote.put("report_data", q.reportDataHex());
        quote.put("vm_config", q.vmConfig());
        if (tcbInfo == null) {
            root.putNull("tcb_info");
        } else {
            try {
                root.set("tcb_info", MAPPER.readTree(tcbInfo));
            } catch (IOException | RuntimeException e) {
                throw new ProviderFailure("Info returned malformed tcb_info", e);
            }
        }
        root.put("timestamp", Long.toString(clock.instant().getEpochSecond()));
        root.put("quote_type", "tdx");
        root.putNull("error");
        return root.toString();
    }

    /** The exporter of the exchange's TLS 1.3 session, or null. */
    private static byte[] ekm(HttpExchange ex) {
        if (!(ex instanceof HttpsExchange hx)) {
            return null;
        }
        SSLSession s = hx.getSSLSession();
        if (!(s instanceof ExtendedSSLSession es) || !"TLSv1.3".equals(s.getProtocol())) {
            return null;
        }
        try {
            return es.exportKeyingMaterialData(EXPORTER_LABEL, null, AtlsProtocol.EXPORTER_LENGTH);
        } catch (javax.net.ssl.SSLKeyException | UnsupportedOperationException e) {
            return null;
        }
    }

    private void reject(HttpExchange ex, int status, String json, String reason) throws IOException {
        listener.requestRejected(call(ex), status, reason);
        send(ex, status, json);
    }

    /** Sends {@code json} with {@code status}, Content-Type and Content-Length (every JSON answer of the server). */
    public static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }
}
