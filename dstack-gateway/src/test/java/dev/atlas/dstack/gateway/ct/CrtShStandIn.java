package dev.atlas.dstack.gateway.ct;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A crt.sh stand-in for tests (loopback, port 0): {@code GET /?q=<domain>&output=json} lists the rows added for
 * that domain (newest first, as crt.sh), {@code GET /?d=<id>} serves the certificate's PEM; per-domain and per-id
 * failure injection (HTTP status, a raw body); {@code POST /hook} records webhook deliveries.
 */
final class CrtShStandIn implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpServer server;
    private final Map<String, List<ObjectNode>> rows = new ConcurrentHashMap<>();
    private final Map<Long, String> pems = new ConcurrentHashMap<>();
    private final Map<String, Integer> listStatus = new ConcurrentHashMap<>();
    private final Map<String, byte[]> listBody = new ConcurrentHashMap<>();
    private final Map<Long, Integer> pemStatus = new ConcurrentHashMap<>();
    private final Map<Long, String> pemBody = new ConcurrentHashMap<>();
    final AtomicInteger pemRequests = new AtomicInteger();
    final List<String> hooks = new CopyOnWriteArrayList<>();
    final AtomicInteger hookStatus = new AtomicInteger(200);

    private CrtShStandIn() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        server.start();
    }

    static CrtShStandIn start() throws IOException {
        return new CrtShStandIn();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    URI hookUrl() {
        return URI.create(url() + "/hook");
    }

    /** Adds a certificate with crt.sh id {@code id} to {@code domain}'s listing. */
    void add(String domain, long id, X509Certificate cert) throws Exception {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("issuer_ca_id", 7);
        o.put("issuer_name", cert.getIssuerX500Principal().getName());
        o.put("common_name", domain);
        o.put("name_value", "*." + domain + "\n" + domain);
        o.put("not_before", "2026-01-01T00:00:00");
        o.put("not_after", "2026-04-01T00:00:00");
        o.put("serial_number", cert.getSerialNumber().toString(16));
        o.put("result_count", 2);
        o.put("entry_timestamp", "2026-01-01T00:00:01.5");
        rows.computeIfAbsent(domain, d -> new CopyOnWriteArrayList<>()).add(0, o);
        pems.put(id, "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'})
                .encodeToString(cert.getEncoded()) + "\n-----END CERTIFICATE-----\n");
    }

    void failList(String domain, int status) {
        listStatus.put(domain, status);
    }

    void listBody(String domain, byte[] body) {
        listBody.put(domain, body);
    }

    void heal(String domain) {
        listStatus.remove(domain);
        listBody.remove(domain);
    }

    void failPem(long id, int status) {
        pemStatus.put(id, status);
    }

    void pemBody(long id, String body) {
        pemBody.put(id, body);
    }

    void healPem(long id) {
        pemStatus.remove(id);
        pemBody.remove(id);
    }

    private void handle(HttpExchange e) throws IOException {
        try (e) {
            if (e.getRequestURI().getPath().equals("/hook")) {
                hooks.add(new String(e.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
                e.sendResponseHeaders(hookStatus.get(), -1);
                return;
            }
            Map<String, String> q = new HashMap<>();
            String raw = e.getRequestURI().getRawQuery();
            for (String kv : raw == null ? new String[0] : raw.split("&")) {
                int i = kv.indexOf('=');
                q.put(URLDecoder.decode(i < 0 ? kv : kv.substring(0, i), StandardCharsets.UTF_8),
                        i < 0 ? "" : URLDecoder.decode(kv.substring(i + 1), StandardCharsets.UTF_8));
            }
            if (q.containsKey("q") && "json".equals(q.get("output"))) {
                String d = q.get("q");
                if (listStatus.containsKey(d)) {
                    e.sendResponseHeaders(listStatus.get(d), -1);
                    return;
                }
                byte[] body = listBody.get(d);
                if (body == null) {
                    ArrayNode a = JSON.createArrayNode();
                    new ArrayList<>(rows.getOrDefault(d, List.of())).forEach(a::add);
                    body = a.toString().getBytes(StandardCharsets.UTF_8);
                }
                send(e, body, "application/json");
                return;
            }
            if (q.containsKey("d")) {
                pemRequests.incrementAndGet();
                long id = Long.parseLong(q.get("d"));
                if (pemStatus.containsKey(id)) {
                    e.sendResponseHeaders(pemStatus.get(id), -1);
                    return;
                }
                String pem = pemBody.getOrDefault(id, pems.get(id));
                if (pem == null) {
                    e.sendResponseHeaders(404, -1);
                    return;
                }
                send(e, pem.getBytes(StandardCharsets.US_ASCII), "application/pkix-cert");
                return;
            }
            e.sendResponseHeaders(400, -1);
        }
    }

    private static void send(HttpExchange e, byte[] body, String type) throws IOException {
        e.getResponseHeaders().set("Content-Type", type);
        e.sendResponseHeaders(200, body.length);
        try (OutputStream o = e.getResponseBody()) {
            o.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
