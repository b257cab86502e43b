package dev.atlas.dstack.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stand-in for the Cloudflare v4 API subset dstack's certbot uses ({@code GET /zones}, {@code GET|POST
 * /zones/{id}/dns_records}, {@code DELETE /zones/{id}/dns_records/{rid}}, bearer token), on a loopback port, plus
 * a small UDP DNS server answering TXT queries from its records (for pebble's {@code -dnsserver} and
 * {@code TxtLookup.server}). Zones are added by the test; records and a request log are inspectable; failures can
 * be injected ({@link #failNext}); the DNS publication can be switched off ({@link #publishDns}).
 */
public final class CloudflareStandIn implements AutoCloseable {
    /** A record as the stand-in stores it; {@code flags/tag/value} for CAA only. */
    public record Record(String id, String zoneId, String name, String type, String content, int ttl,
            Integer flags, String tag, String value) {
    }

    /** What the next API call does instead of answering normally. */
    public enum Failure {
        /** HTTP 500 with a Cloudflare error envelope. */
        SERVER_ERROR,
        /** No answer until the client gives up (or the stand-in closes). */
        TIMEOUT,
        /** HTTP 200 whose body is not JSON. */
        MALFORMED,
        /** HTTP 200 with an 8 MiB body (whitespace inside a valid envelope). */
        HUGE,
        /** HTTP 400 {@code success: false} with code 1004 "DNS Validation Error". */
        API_ERROR
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "/client/v4";

    private final String token;
    private final HttpServer http;
    private final ExecutorService pool;
    private final DatagramSocket udp;
    private final Thread dnsThread;
    private final CountDownLatch closing = new CountDownLatch(1);
    private final Map<String, String> zones = new LinkedHashMap<>(); // id -> name
    private final List<Record> records = new ArrayList<>();
    private final List<String> log = new ArrayList<>();
    private final List<Object[]> failures = new ArrayList<>(); // {Failure, prefix, remaining int[]}
    private final AtomicLong ids = new AtomicLong(1);
    private volatile boolean publish = true;

    private CloudflareStandIn(String token) throws IOException {
        this.token = token;
        this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "cloudflare-stand-in");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(pool);
        http.createContext(PREFIX + "/", this::handle);
        this.udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.dnsThread = new Thread(this::serveDns, "cloudflare-stand-in-dns");
        dnsThread.setDaemon(true);
    }

    /** Starts the API and the DNS server on loopback, port 0; {@code token} is the expected bearer token. */
    public static CloudflareStandIn start(String token) throws IOException {
        CloudflareStandIn s = new CloudflareStandIn(token);
        s.http.start();
        s.dnsThread.start();
        return s;
    }

    /** Adds a zone; returns its id. */
    public synchronized String addZone(String name) {
        String id = newId();
        zones.put(id, name.toLowerCase(Locale.ROOT));
        return id;
    }

    /** The API base URL ({@code http://127.0.0.1:<port>/client/v4}). */
    public URI apiUrl() {
        return URI.create("http://127.0.0.1:" + http.getAddress().getPort() + PREFIX);
    }

    /** The UDP DNS server serving the TXT records. */
    public InetSocketAddress dnsAddress() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), udp.getLocalPort());
    }

    /** The records of a zone (by zone name), in creation order. */
    public synchronized List<Record> records(String zoneName) {
        String id = zoneId(zoneName);
        List<Record> out = new ArrayList<>();
        for (Record r : records) {
            if (r.zoneId().equals(id)) {
                out.add(r);
            }
        }
        return out;
    }

    /** Adds a record directly (test setup, e.g. an existing foreign CAA record {@code 0 issue "ca.example"}). */
    public synchronized String putRecord(String zoneName, String name, String type, String content) {
        String zid = zoneId(zoneName);
        if (zid == null) {
            throw new IllegalArgumentException("no zone " + zoneName);
        }
        Record r;
        if (type.equals("CAA")) {
            String[] p = content.split(" ", 3);
            r = new Record(newId(), zid, name, type, content, 1, Integer.parseInt(p[0]), p[1],
                    p[2].substring(1, p[2].length() - 1));
        } else {
            r = new Record(newId(), zid, name, type, content, 1, null, null, null);
        }
        records.add(r);
        return r.id();
    }

    /** The API requests served so far, one line each (e.g. {@code POST CAA example.test 0 issue ";"}). */
    public synchronized List<String> requestLog() {
        return List.copyOf(log);
    }

    /** Clears the request log. */
    public synchronized void clearLog() {
        log.clear();
    }

    /** The next {@code count} API calls whose {@code METHOD /path} starts with {@code prefix} (null: any) fail. */
    public synchronized void failNext(Failure failure, String methodAndPathPrefix, int count) {
        failures.add(new Object[] {failure, methodAndPathPrefix, new int[] {count}});
    }

    /** Whether the DNS server answers with the TXT records (false: it answers with none). */
    public void publishDns(boolean on) {
        publish = on;
    }

    @Override
    public void close() {
        closing.countDown();
        http.stop(0);
        udp.close();
        pool.shutdownNow();
    }

    // ---------------------------------------------------------------------------------------------- HTTP

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getRawPath();
            Failure f = takeFailure(method + " " + path);
            if (f != null) {
                synchronized (this) {
                    log.add(method + " " + path.substring(PREFIX.length()) + " -> injected " + f);
                }
                fail(ex, f);
                return;
            }
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !auth.equals("Bearer " + token)) {
                send(ex, 403, error(9109, "Invalid access token"));
                return;
            }
            String rel = path.substring(PREFIX.length());
            Map<String, String> q = query(ex.getRequestURI().getRawQuery());
            String[] parts = rel.split("/");
            // "", "zones", [zid, "dns_records", [rid]]
            if (parts.length == 2 && parts[1].equals("zones") && method.equals("GET")) {
                listZones(ex, q);
            } else if (parts.length >= 4 && parts[1].equals("zones") && parts[3].equals("dns_records")) {
                String zid = parts[2];
                synchronized (this) {
                    if (!zones.containsKey(zid)) {
                        log.add(method + " " + rel + " -> 404");
                        send(ex, 404, error(7003, "Could not route to " + rel + ", perhaps your object identifier is"
                                + " invalid?"));
                        return;
                    }
                }
                if (parts.length == 4 && method.equals("GET")) {
                    listRecords(ex, zid, q);
                } else if (parts.length == 4 && method.equals("POST")) {
                    addRecord(ex, zid);
                } else if (parts.length == 5 && method.equals("DELETE")) {
                    deleteRecord(ex, zid, parts[4]);
                } else {
                    send(ex, 405, error(10000, "method not allowed"));
                }
            } else {
                send(ex, 404, error(7000, "No route for that URI"));
            }
        } catch (RuntimeException e) {
            send(ex, 500, error(10001, "stand-in failure: " + e));
        }
    }

    private synchronized Failure takeFailure(String call) {
        for (Object[] f : failures) {
            int[] left = (int[]) f[2];
            String prefix = (String) f[1];
            if (left[0] > 0 && (prefix == null || call.startsWith(prefix) || call.startsWith(prefix.replaceFirst(
                    " ", " " + PREFIX)))) {
                left[0]--;
                return (Failure) f[0];
            }
        }
        return null;
    }

    private void fail(HttpExchange ex, Failure f) throws IOException {
        switch (f) {
            case SERVER_ERROR -> send(ex, 500, error(10000, "Internal Server Error"));
            case API_ERROR -> send(ex, 400, error(1004, "DNS Validation Error"));
            case MALFORMED -> send(ex, 200, "{\"success\": true, \"result\": [".getBytes(StandardCharsets.UTF_8));
            case TIMEOUT -> {
                try {
                    closing.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            case HUGE -> {
                ex.getResponseHeaders().set("Content-Type", "application/json");
                ex.sendResponseHeaders(200, 0);
                OutputStream out = ex.getResponseBody();
                try {
                    out.write("{\"success\":true,\"result\":".getBytes(StandardCharsets.UTF_8));
                    byte[] spaces = new byte[64 * 1024];
                    java.util.Arrays.fill(spaces, (byte) ' ');
                    for (int i = 0; i < 128; i++) {
                        out.write(spaces);
                    }
                    out.write("{\"id\":\"x\"}}".getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // the client hung up once it had enough: the point of the test
                }
            }
            default -> throw new IllegalStateException();
        }
    }

    private void listZones(HttpExchange ex, Map<String, String> q) throws IOException {
        int page = Integer.parseInt(q.getOrDefault("page", "1"));
        int perPage = Integer.parseInt(q.getOrDefault("per_page", "20"));
        List<Map.Entry<String, String>> all;
        synchronized (this) {
            log.add("GET /zones page " + page);
            all = new ArrayList<>(zones.entrySet());
        }
        String name = q.get("name");
        if (name != null) {
            all.removeIf(e -> !e.getValue().equals(name));
        }
        ArrayNode result = JSON.createArrayNode();
        for (int i = (page - 1) * perPage; i < Math.min(all.size(), page * perPage); i++) {
            ObjectNode z = result.addObject();
            z.put("id", all.get(i).getKey());
            z.put("name", all.get(i).getValue());
            z.put("status", "active");
        }
        send(ex, 200, envelope(result, page, perPage, all.size()));
    }

    private void listRecords(HttpExchange ex, String zid, Map<String, String> q) throws IOException {
        int page = Integer.parseInt(q.getOrDefault("page", "1"));
        int perPage = Integer.parseInt(q.getOrDefault("per_page", "100"));
        String name = q.get("name");
        String type = q.get("type");
        List<Record> all = new ArrayList<>();
        synchronized (this) {
            log.add("GET records " + name + (type == null ? "" : " " + type));
            for (Record r : records) {
                if (r.zoneId().equals(zid) && (name == null || r.name().equalsIgnoreCase(name))
                        && (type == null || r.type().equals(type))) {
                    all.add(r);
                }
            }
        }
        ArrayNode result = JSON.createArrayNode();
        for (int i = (page - 1) * perPage; i < Math.min(all.size(), page * perPage); i++) {
            result.add(toJson(all.get(i)));
        }
        send(ex, 200, envelope(result, page, perPage, all.size()));
    }

    private void addRecord(HttpExchange ex, String zid) throws IOException {
        JsonNode body = JSON.readTree(ex.getRequestBody().readNBytes(1 << 16));
        String type = body.path("type").asText();
        String name = body.path("name").asText();
        Record r;
        if (type.equals("CAA")) {
            JsonNode d = body.path("data");
            int flags = d.path("flags").asInt();
            String tag = d.path("tag").asText();
            String value = d.path("value").asText();
            r = new Record(newId(), zid, name, type, flags + " " + tag + " \"" + value + "\"", 1, flags, tag, value);
        } else if (type.equals("TXT")) {
            int ttl = body.path("ttl").asInt(1);
            if (ttl != 1 && ttl < 60) {
                send(ex, 400, error(9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."));
                return;
            }
            r = new Record(newId(), zid, name, type, body.path("content").asText(), ttl, null, null, null);
        } else {
            send(ex, 400, error(9000, "stand-in: unsupported type " + type));
            return;
        }
        synchronized (this) {
            records.add(r);
            log.add("POST " + type + " " + name + " " + r.content());
        }
        send(ex, 200, envelope(toJson(r), 0, 0, -1));
    }

    private void deleteRecord(HttpExchange ex, String zid, String rid) throws IOException {
        Record gone = null;
        synchronized (this) {
            for (Record r : records) {
                if (r.id().equals(rid) && r.zoneId().equals(zid)) {
                    gone = r;
                }
            }
            if (gone != null) {
                records.remove(gone);
                log.add("DELETE " + gone.type() + " " + gone.name() + " " + gone.content());
            } else {
                log.add("DELETE " + rid + " -> 404");
            }
        }
        if (gone == null) {
            send(ex, 404, error(81044, "Record does not exist."));
            return;
        }
        ObjectNode id = JSON.createObjectNode();
        id.put("id", rid);
        send(ex, 200, envelope(id, 0, 0, -1));
    }

    private static ObjectNode toJson(Record r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", r.id());
        o.put("zone_id", r.zoneId());
        o.put("name", r.name());
        o.put("type", r.type());
        o.put("content", r.content());
        o.put("ttl", r.ttl());
        o.put("proxied", false);
        if (r.flags() != null) {
            ObjectNode d = o.putObject("data");
            d.put("flags", r.flags());
            d.put("tag", r.tag());
            d.put("value", r.value());
        }
        return o;
    }

    private static byte[] envelope(JsonNode result, int page, int perPage, int total) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("success", true);
        o.putArray("errors");
        o.putArray("messages");
        o.set("result", result);
        if (total >= 0) {
            ObjectNode info = o.putObject("result_info");
            info.put("page", page);
            info.put("per_page", perPage);
            info.put("count", result.size());
            info.put("total_count", total);
            info.put("total_pages", Math.max(1, (total + perPage - 1) / perPage));
        }
        return JSON.writeValueAsBytes(o);
    }

    private static byte[] error(int code, String message) {
        ObjectNode o = JSON.createObjectNode();
        o.put("success", false);
        ObjectNode e = o.putArray("errors").addObject();
        e.put("code", code);
        e.put("message", message);
        o.putArray("messages");
        o.putNull("result");
        try {
            return JSON.writeValueAsBytes(o);
        } catch (IOException x) {
            throw new IllegalStateException(x);
        }
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new HashMap<>();
        if (raw == null) {
            return q;
        }
        for (String kv : raw.split("&")) {
            int i = kv.indexOf('=');
            if (i > 0) {
                q.put(URLDecoder.decode(kv.substring(0, i), StandardCharsets.UTF_8),
                        URLDecoder.decode(kv.substring(i + 1), StandardCharsets.UTF_8));
            }
        }
        return q;
    }

    private String zoneId(String zoneName) {
        for (Map.Entry<String, String> e : zones.entrySet()) {
            if (e.getValue().equalsIgnoreCase(zoneName)) {
                return e.getKey();
            }
        }
        return null;
    }

    private String newId() {
        return HexFormat.of().formatHex(java.nio.ByteBuffer.allocate(16).putLong(System.nanoTime())
                .putLong(ids.getAndIncrement()).array());
    }

    // ----------------------------------------------------------------------------------------------- DNS

    private void serveDns() {
        byte[] buf = new byte[1500];
        while (!udp.isClosed()) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                udp.receive(p);
                byte[] answer = answer(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                if (answer != null) {
                    udp.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
                }
            } catch (IOException | RuntimeException e) {
                // closed, or a query we cannot read: no answer
            }
        }
    }

    /** A DNS answer to one query: TXT records of the name (case-insensitive), nothing for other types. */
    private byte[] answer(byte[] q) {
        if (q.length < 17 || (q[2] & 0x80) != 0 || ((q[4] << 8) | (q[5] & 0xff)) != 1) {
            return null;
        }
        int i = 12;
        StringBuilder name = new StringBuilder();
        while (q[i] != 0) {
            int len = q[i] & 0xff;
            if (len > 63 || i + 1 + len >= q.length) {
                return null;
            }
            if (name.length() > 0) {
                name.append('.');
            }
            name.append(new String(q, i + 1, len, StandardCharsets.US_ASCII));
            i += 1 + len;
        }
        int qEnd = i + 5;
        if (qEnd > q.length) {
            return null;
        }
        int qtype = ((q[i + 1] & 0xff) << 8) | (q[i + 2] & 0xff);
        List<String> values = new ArrayList<>();
        if (qtype == 16 && publish) {
            synchronized (this) {
                for (Record r : records) {
                    if (r.type().equals("TXT") && r.name().equalsIgnoreCase(name.toString())) {
                        values.add(r.content());
                    }
                }
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(q[0]);
        out.write(q[1]);
        out.write(0x84 | (q[2] & 0x01)); // QR, AA, RD copied
        out.write(0x00); // RA=0, RCODE=0
        out.writeBytes(new byte[] {0, 1, (byte) (values.size() >> 8), (byte) values.size(), 0, 0, 0, 0});
        out.write(q, 12, qEnd - 12);
        for (String v : values) {
            byte[] b = v.getBytes(StandardCharsets.UTF_8);
            ByteArrayOutputStream rdata = new ByteArrayOutputStream();
            for (int off = 0; off < b.length || off == 0; off += 255) {
                int n = Math.min(255, b.length - off);
                rdata.write(n);
                rdata.write(b, off, n);
                if (b.length == 0) {
                    break;
                }
            }
            out.writeBytes(new byte[] {(byte) 0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60,
                (byte) (rdata.size() >> 8), (byte) rdata.size()});
            out.writeBytes(rdata.toByteArray());
        }
        return out.toByteArray();
    }
}
