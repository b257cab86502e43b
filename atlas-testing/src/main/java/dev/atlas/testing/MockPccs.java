package dev.atlas.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A PCCS on loopback: serves the PCCS/PCS v4 paths that {@code atlas-tdx}'s {@code CollateralClient} reads,
 * shaped like Intel's and Phala's services, from collateral signed by the mock TCB signer:
 * <ul>
 *   <li>{@code GET /sgx/certification/v4/pckcrl?ca=platform|processor[&encoding=der]}: the PCK CRL (DER with
 *       {@code encoding=der}, hex otherwise), header {@code SGX-PCK-CRL-Issuer-Chain};</li>
 *   <li>{@code GET /sgx/certification/v4/rootcacrl}: the root CA CRL as hex (as PCCS answers);</li>
 *   <li>{@code GET /tdx/certification/v4/tcb?fmspc=…}: {@code {"tcbInfo":…,"signature":"…"}}, header
 *       {@code TCB-Info-Issuer-Chain}; 404 for another FMSPC;</li>
 *   <li>{@code GET /tdx/certification/v4/qe/identity}: {@code {"enclaveIdentity":…,"signature":"…"}}, header
 *       {@code SGX-Enclave-Identity-Issuer-Chain}.</li>
 * </ul>
 * Issuer chains are percent-encoded as Intel does ({@code +} as {@code %2B}, space as {@code %20}). The
 * signed JSON is inserted verbatim, so signatures verify over the served bytes.
 *
 * <p>The collateral is read from the supplier on every request, so a {@link SimulatedCvm}'s validity window
 * follows its clock. Binds 127.0.0.1 only.
 */
public final class MockPccs implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();

    private final Supplier<String> collateral;
    private final HttpServer server;
    private final ExecutorService executor;
    private final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    private MockPccs(Supplier<String> collateral, int port) throws IOException {
        this.collateral = collateral;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /** Starts a PCCS serving {@code cvm}'s collateral on an ephemeral loopback port. */
    public static MockPccs start(SimulatedCvm cvm) {
        return start(cvm::collateralJson, 0);
    }

    /**
     * Starts a PCCS serving the collateral that {@code collateralJson} returns ({@code QuoteCollateralV3} JSON,
     * e.g. {@link DcapEvidence#collateralJson()}), on {@code port} of 127.0.0.1 (0 = ephemeral).
     *
     * @throws UncheckedIOException when the port cannot be bound; the message names the address and the reason
     * @throws IllegalArgumentException when {@code port} is outside 0..65535
     */
    public static MockPccs start(Supplier<String> collateralJson, int port) {
        Objects.requireNonNull(collateralJson);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("mock PCCS port " + port + " is out of range 0..65535");
        }
        try {
            return new MockPccs(collateralJson, port);
        } catch (IOException e) {
            String why = e.getMessage() == null || e.getMessage().isBlank() ? "I/O error without detail"
                    : e.getMessage().toLowerCase(Locale.ROOT).contains("in use") ? "the address is already in use"
                    : e.getMessage();
            throw new UncheckedIOException("cannot start the mock PCCS on 127.0.0.1:" + port + ": " + why, e);
        }
    }

    /** {@code http://127.0.0.1:<port>}: the base URL a collateral client takes. */
    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** {@code <base>/tdx/certification/v4}: the form a policy's {@code pccs_url} usually has. */
    public String tdxUrl() {
        return baseUrl() + "/tdx/certification/v4";
    }

    /** The port. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Requests served so far, all paths. */
    public int requestCount() {
        return total.get();
    }

    /** Requests served so far for one path (e.g. {@code /tdx/certification/v4/tcb}). */
    public int requestCount(String path) {
        AtomicInteger n = hits.get(path);
        return n == null ? 0 : n.get();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            total.incrementAndGet();
            hits.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
            if (!"GET".equals(ex.getRequestMethod())) {
                send(ex, 405, "method not allowed");
                return;
            }
            Map<String, String> q = query(ex.getRequestURI().getRawQuery());
            JsonNode c = MAPPER.readTree(collateral.get());
            switch (path) {
                case "/sgx/certification/v4/pckcrl" -> {
                    String ca = q.get("ca");
                    if (!"platform".equals(ca) && !"processor".equals(ca)) {
                        send(ex, 400, "ca must be platform or processor");
                        return;
                    }
                    ex.getResponseHeaders().add("SGX-PCK-CRL-Issuer-Chain", enc(c.get("pck_crl_issuer_chain").asText()));
                    byte[] der = HEX.parseHex(c.get("pck_crl").asText());
                    boolean asDer = "der".equals(q.get("encoding"));
                    send(ex, 200, asDer ? der : HEX.formatHex(der).getBytes(StandardCharsets.US_ASCII),
                            asDer ? "application/pkix-crl" : "text/plain");
                }
                case "/sgx/certification/v4/rootcacrl" ->
                        send(ex, 200, c.get("root_ca_crl").asText().getBytes(StandardCharsets.US_ASCII), "text/plain");
                case "/tdx/certification/v4/tcb" -> {
                    String tcbInfo = c.get("tcb_info").asText();
                    String fmspc = MAPPER.readTree(tcbInfo).path("fmspc").asText();
                    if (q.get("fmspc") == null || !fmspc.equalsIgnoreCase(q.get("fmspc"))) {
                        send(ex, 404, "no TCB info for this FMSPC");
                        return;
                    }
                    ex.getResponseHeaders().add("TCB-Info-Issuer-Chain", enc(c.get("tcb_info_issuer_chain").asText()));
                    send(ex, 200, ("{\"tcbInfo\":" + tcbInfo + ",\"signature\":\""
                            + c.get("tcb_info_signature").asText() + "\"}").getBytes(StandardCharsets.UTF_8),
                            "application/json");
                }
                case "/tdx/certification/v4/qe/identity" -> {
                    ex.getResponseHeaders().add("SGX-Enclave-Identity-Issuer-Chain",
                            enc(c.get("qe_identity_issuer_chain").asText()));
                    send(ex, 200, ("{\"enclaveIdentity\":" + c.get("qe_identity").asText() + ",\"signature\":\""
                            + c.get("qe_identity_signature").asText() + "\"}").getBytes(StandardCharsets.UTF_8),
                            "application/json");
                }
                default -> send(ex, 404, "not found");
            }
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> m = new java.util.HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return m;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.putIfAbsent(kv.substring(0, eq).toLowerCase(Locale.ROOT), kv.substring(eq + 1));
            }
        }
        return m;
    }

    /** Percent-encodes like Intel: {@code +} as %2B and spaces as %20. */
    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static void send(HttpExchange ex, int status, String text) throws IOException {
        send(ex, status, text.getBytes(StandardCharsets.UTF_8), "text/plain");
    }

    private static void send(HttpExchange ex, int status, byte[] body, String type) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        }
    }
}
