package dev.atlas.server;

import dev.atlas.protocol.Checks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLogEntry;
import dev.atlas.protocol.Checks;
import dev.atlas.server.internal.AgentTransport;
import dev.atlas.server.internal.EventLogBackfill;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link QuoteProvider} that asks the dstack guest agent (HTTP/1.1 on the Unix socket
 * {@code /var/run/dstack.sock}, or the endpoint in {@code DSTACK_SIMULATOR_ENDPOINT}, as dstack's SDKs do).
 *
 * <ul>
 *   <li>{@code getQuote}: {@code POST /GetQuote {"report_data":"<hex>"}}; the answer's {@code quote},
 *       {@code event_log} (a JSON string), {@code report_data} and {@code vm_config} are checked for type.</li>
 *   <li>{@code tcbInfo}: {@code POST /Info}, whose {@code tcb_info} is a JSON string.</li>
 *   <li>{@code emitEvent}, by {@link Measurement}:
 *     <ul>
 *       <li>{@code EMIT_EVENT}: {@code POST /EmitEvent {"event","payload":"<hex>"}}. dstack 0.5.x agents have
 *           it; current dstack removed it.</li>
 *       <li>{@code NATIVE_RTMR3}: the digest is written to the kernel's RTMR3 extend file (Linux TSM
 *           measurement ABI, {@code /sys/class/misc/tdx_guest/measurements/rtmr3:sha384} by default), and the
 *           provider appends the event to every event log it returns: on current dstack the application "owns
 *           the event-log story" for its own RTMR3 extensions. Extending and quoting are serialized inside this
 *           provider, so a log it returns always contains every extension made before that quote.</li>
 *       <li>{@code AUTO} (default): {@code EmitEvent}, and when the agent answers that the method does not exist (404, or
 *           pRPC's 400 {@code Service not found}: removed in current dstack) the
 *           native file if it exists; otherwise the call fails and the server does not start.</li>
 *     </ul>
 *   </li>
 * </ul>
 * Every call has a deadline and a response size limit.
 */
public final class GuestAgentQuoteProvider implements QuoteProvider {
    /** The socket dstack maps into application containers. */
    public static final String DEFAULT_SOCKET = "/var/run/dstack.sock";
    /** The environment variable dstack's SDKs use to point at a simulator (socket path or http(s) URL). */
    public static final String SIMULATOR_ENDPOINT_ENV = "DSTACK_SIMULATOR_ENDPOINT";
    /** Linux TSM measurement register file for RTMR3 (writing 48 bytes extends it). */
    public static final Path DEFAULT_NATIVE_RTMR3 = Path.of("/sys/class/misc/tdx_guest/measurements/rtmr3:sha384");

    /** How {@link #emitEvent} measures. */
    public enum Measurement { AUTO, EMIT_EVENT, NATIVE_RTMR3 }

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();

    private final String endpoint;
    private final AgentTransport transport;
    private final Measurement measurement;
    private final Path nativeRtmr3;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private final List<EventLogBackfill.Event> nativeEvents = new ArrayList<>(); // guarded by lock
    private volatile boolean nativeMode;

    private GuestAgentQuoteProvider(Builder b) {
        this.endpoint = b.endpoint;
        this.transport = AgentTransport.of(b.endpoint, b.timeout, b.maxResponseBytes);
        this.measurement = b.measurement;
        this.nativeRtmr3 = b.nativeRtmr3;
        this.nativeMode = b.measurement == Measurement.NATIVE_RTMR3;
    }

    /** A builder; without {@link Builder#endpoint}, the endpoint comes from the environment. */
    public static Builder builder() {
        return new Builder();
    }

    /** The endpoint dstack's SDKs would use: {@code DSTACK_SIMULATOR_ENDPOINT} if set, else {@link #DEFAULT_SOCKET}. */
    public static String endpointFromEnvironment(Map<String, String> env) {
        String v = env.get(SIMULATOR_ENDPOINT_ENV);
        return v != null && !v.isBlank() ? v.strip() : DEFAULT_SOCKET;
    }

    /** The endpoint in use. */
    public String endpoint() {
        return endpoint;
    }

    @Override
    public GetQuoteResponse getQuote(byte[] reportData) throws IOException {
        if (reportData.length > 64) {
            throw new IllegalArgumentException("report data is longer than 64 bytes");
        }
        ObjectNode req = MAPPER.createObjectNode().put("report_data", HEX.formatHex(reportData));
        lock.readLock().lock();
        try {
            JsonNode r = call("GetQuote", req);
            byte[] quote = hex(r, "quote", true);
            String log = text(r, "event_log", true);
            byte[] rd = hex(r, "report_data", false);
            String vm = text(r, "vm_config", false);
            if (!nativeEvents.isEmpty()) {
                log = EventLogBackfill.append(log, nativeEvents);
            }
            if (quote.length == 0) {
                throw new IOException("guest agent returned an empty quote (not a TDX CVM?)");
            }
            return new GetQuoteResponse(quote, log, rd, vm);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public String tcbInfo() throws IOException {
        JsonNode r = call("Info", MAPPER.createObjectNode());
        JsonNode ti = r.get("tcb_info");
        if (ti == null || ti.isNull() || (ti.isTextual() && ti.textValue().isEmpty())) {
            return null;
        }
        JsonNode parsed;
        try {
            parsed = ti.isTextual() ? MAPPER.readTree(ti.textValue()) : ti;
        } catch (RuntimeException e) {
            throw new IOException("guest agent Info: tcb_info is not JSON", e);
        }
        if (parsed == null || !parsed.isObject()) {
            throw new IOException("guest agent Info: tcb_info is not a JSON object");
        }
        return parsed.toString();
    }

    @Override
    public void emitEvent(String event, byte[] payload) throws IOException {
        Objects.requireNonNull(event);
        Objects.requireNonNull(payload);
        if (!nativeMode) {
            ObjectNode req = MAPPER.createObjectNode().put("event", event).put("payload", HEX.formatHex(payload));
            AgentTransport.Reply r = post("EmitEvent", MAPPER.writeValueAsBytes(req));
            if (r.status() == 200) {
                return;
            }
            // Current dstack has no EmitEvent: its pRPC dispatcher answers an unknown method with 400
            // {"error": "Service not found: EmitEvent"} (older builds and plain HTTP servers with 404).
            boolean removed = r.status() == 404 || (r.status() == 400 && r.text().contains("Service not found"));
            if (!(measurement == Measurement.AUTO && removed && Files.exists(nativeRtmr3))) {
                throw new IOException("guest agent EmitEvent failed with status " + r.status()
                        + (removed ? " (the API was removed in current dstack; the native RTMR3 file " + nativeRtmr3
                                + " is " + (Files.exists(nativeRtmr3) ? "present" : "absent") + ")" : "")
                        + ": " + abbreviate(r.text()));
            }
            nativeMode = true;
        }
        byte[] digest = EventLogEntry.runtimeDigest(event, payload);
        lock.writeLock().lock();
        try {
            Files.write(nativeRtmr3, digest, StandardOpenOption.WRITE);
            nativeEvents.add(new EventLogBackfill.Event(event, payload));
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String description() {
        return "dstack guest agent at " + transport + (nativeMode ? " (RTMR3 extended natively via " + nativeRtmr3 + ")" : "");
    }

    /**
     * One call; a transport failure becomes an IOException whose message names the agent's endpoint and says
     * in plain words what went wrong (the JDK's own messages are often null or omit the address).
     */
    private AgentTransport.Reply post(String method, byte[] body) throws IOException {
        try {
            return transport.post(method, body);
        } catch (IOException e) {
            throw new IOException(failure(transport.toString(), method, e), e);
        }
    }

    /** {@code guest agent at ENDPOINT: METHOD failed: REASON}, for people. */
    static String failure(String endpoint, String method, IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (m.startsWith("guest agent")) {
            return m; // the transport's own message already names the agent (deadline, size limit, malformed reply)
        }
        String lower = m.toLowerCase(java.util.Locale.ROOT);
        String why;
        boolean unix = endpoint.startsWith("unix:");
        boolean unresolved = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            unresolved |= t instanceof java.nio.channels.UnresolvedAddressException
                    || t instanceof java.net.UnknownHostException;
        }
        if (unresolved) {
            why = "the host name cannot be resolved";
        } else if (e instanceof java.net.http.HttpConnectTimeoutException || lower.contains("connect timed out")) {
            why = "connection timed out";
        } else if (e instanceof java.net.ConnectException || lower.contains("connection refused")) {
            why = unix ? "connection refused (the socket exists but nothing listens on it)"
                    : "connection refused (nothing listens there: is the agent or simulator running?)";
        } else if (lower.contains("no such file") || e instanceof java.nio.file.NoSuchFileException) {
            why = "the socket does not exist (not inside a dstack CVM?)";
        } else if (lower.contains("permission denied") || e instanceof java.nio.file.AccessDeniedException) {
            why = "permission denied (is the socket mounted into this container and readable by this user?)";
        } else if (lower.contains("connection reset") || lower.contains("broken pipe") || e instanceof java.io.EOFException) {
            why = "the agent closed the connection before answering";
        } else if (!m.isBlank()) {
            why = m;
        } else {
            why = "I/O error without detail";
        }
        return "guest agent at " + endpoint + ": " + method + " failed: " + why;
    }

    private JsonNode call(String method, ObjectNode req) throws IOException {
        AgentTransport.Reply r = post(method, MAPPER.writeValueAsBytes(req));
        if (r.status() != 200) {
            throw new IOException("guest agent " + method + " failed with status " + r.status() + ": "
                    + abbreviate(r.text()));
        }
        JsonNode n;
        try {
            n = MAPPER.readTree(r.body());
        } catch (IOException | RuntimeException e) {
            throw new IOException("guest agent " + method + " answered malformed JSON", e);
        }
        if (n == null || !n.isObject()) {
            throw new IOException("guest agent " + method + " did not answer a JSON object");
        }
        return n;
    }

    private static String text(JsonNode r, String field, boolean required) throws IOException {
        JsonNode v = r.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IOException("guest agent GetQuote: missing " + field);
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new IOException("guest agent GetQuote: " + field + " is not a string");
        }
        return v.textValue();
    }

    private static byte[] hex(JsonNode r, String field, boolean required) throws IOException {
        String s = text(r, field, required);
        try {
            return HEX.parseHex(s);
        } catch (IllegalArgumentException e) {
            throw new IOException("guest agent GetQuote: " + field + " is not hex");
        }
    }

    private static String abbreviate(String s) {
        String t = s.strip();
        return t.length() > 200 ? t.substring(0, 200) + "…" : t;
    }

    /** Builder. */
    public static final class Builder {
        private String endpoint;
        private Duration timeout = Duration.ofSeconds(30);
        private int maxResponseBytes = 16 << 20;
        private Measurement measurement = Measurement.AUTO;
        private Path nativeRtmr3 = DEFAULT_NATIVE_RTMR3;

        private Builder() {}

        /** A socket path, {@code unix:/path}, or an {@code http(s)://} URL. Default: from the environment. */
        public Builder endpoint(String e) {
            if (e == null || e.isBlank()) {
                throw new IllegalArgumentException("empty guest agent endpoint");
            }
            this.endpoint = e.strip();
            return this;
        }

        /** Deadline for one call (default 30 s: quote generation on real hardware takes a while). */
        public Builder timeout(Duration d) {
            this.timeout = Checks.positive(d, "timeout");
            return this;
        }

        /** Largest agent response accepted (default 16 MiB). */
        public Builder maxResponseBytes(int n) {
            this.maxResponseBytes = Checks.atLeast(n, 1024, "maxResponseBytes");
            return this;
        }

        /** How {@code emitEvent} measures (default {@link Measurement#AUTO}). */
        public Builder measurement(Measurement m) {
            this.measurement = Objects.requireNonNull(m);
            return this;
        }

        /** The RTMR3 extend file for native measurement. */
        public Builder nativeRtmr3(Path p) {
            this.nativeRtmr3 = Objects.requireNonNull(p);
            return this;
        }

        public GuestAgentQuoteProvider build() {
            if (endpoint == null) {
                endpoint = endpointFromEnvironment(System.getenv());
            }
            return new GuestAgentQuoteProvider(this);
        }
    }
}
