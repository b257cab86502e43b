package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The gateway-relevant port configuration an app declares ({@code gateway_rpc.proto} {@code PortPolicy}; app-compose
 * {@code port_policy}; spec §3.3 "Port policy"): per-port attributes and whether only the listed ports are reachable.
 *
 * @param ports        per-port attributes ({@code PortAttrs}); a port listed twice keeps its last entry
 * @param restrictMode when true, only the listed ports are reachable
 */
public record PortPolicy(List<Port> ports, boolean restrictMode) {
    /** The open policy: every port allowed, no PROXY header (what an empty report or a redacted Info means). */
    public static final PortPolicy OPEN = new PortPolicy(List.of(), false);

    public PortPolicy {
        Map<Integer, Port> byPort = new LinkedHashMap<>();
        for (Port p : ports) {
            byPort.remove(p.port()); // a port listed twice keeps its last entry, as upstream's BTreeMap collect
            byPort.put(p.port(), Objects.requireNonNull(p, "ports[]"));
        }
        ports = List.copyOf(byPort.values());
    }

    /** {@code PortAttrs}: a CVM port and whether the gateway sends it a PROXY protocol header. */
    public record Port(int port, boolean pp) {
        public Port {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("PortPolicy.Port.port must be 0..65535: " + port);
            }
        }
    }

    /** The attributes of {@code port}, if listed. */
    public Optional<Port> find(int port) {
        for (Port p : ports) {
            if (p.port() == port) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Whether a connection to {@code port} is allowed. */
    public boolean allows(int port) {
        return !restrictMode || find(port).isPresent();
    }

    /** Whether the gateway must send a PROXY header to {@code port} ({@code pp}; false when not listed). */
    public boolean proxyProtocol(int port) {
        return find(port).map(Port::pp).orElse(false);
    }

    /** The most {@code ports} entries accepted from JSON (a port can be listed once; 65,536 ports exist). */
    public static final int MAX_PORTS = 1024;

    /**
     * Reads the proto JSON form {@code {"ports":[{"port":443,"pp":true}],"restrict_mode":true}} (both fields
     * optional, as pRPC's serde defaults; unknown keys ignored as serde does). A port listed twice keeps its last
     * entry, as upstream's map does.
     *
     * @param field the name used in messages (for example {@code port_policy} or {@code policy})
     * @throws RaException {@code WRONG_TYPE} (not an object, {@code ports} not an array, {@code port} not an integer,
     *                     a flag not a boolean), {@code INVALID_ARGUMENT} (a port outside 0..65535),
     *                     {@code LIMIT_EXCEEDED} (more than {@link #MAX_PORTS} entries)
     */
    public static PortPolicy fromJson(JsonNode node, String field) throws RaException {
        if (node == null || !node.isObject()) {
            throw new RaException(RaException.Reason.WRONG_TYPE, field, "must be an object");
        }
        boolean restrict = false;
        JsonNode rm = node.get("restrict_mode");
        if (rm != null && !rm.isNull()) {
            if (!rm.isBoolean()) {
                throw new RaException(RaException.Reason.WRONG_TYPE, field + ".restrict_mode", "must be a boolean");
            }
            restrict = rm.booleanValue();
        }
        List<Port> ports = new ArrayList<>();
        JsonNode list = node.get("ports");
        if (list != null && !list.isNull()) {
            if (!list.isArray()) {
                throw new RaException(RaException.Reason.WRONG_TYPE, field + ".ports", "must be an array");
            }
            if (list.size() > MAX_PORTS) {
                throw new RaException(RaException.Reason.LIMIT_EXCEEDED, field + ".ports",
                        "has " + list.size() + " entries, more than " + MAX_PORTS);
            }
            for (int i = 0; i < list.size(); i++) {
                String f = field + ".ports[" + i + "]";
                JsonNode e = list.get(i);
                if (!e.isObject()) {
                    throw new RaException(RaException.Reason.WRONG_TYPE, f, "must be an object");
                }
                JsonNode port = e.get("port");
                int p = 0;
                if (port != null && !port.isNull()) {
                    if (!port.isIntegralNumber()) {
                        throw new RaException(RaException.Reason.WRONG_TYPE, f + ".port", "must be an integer");
                    }
                    if (!port.canConvertToLong() || port.longValue() < 0 || port.longValue() > 65535) {
                        throw new RaException(RaException.Reason.INVALID_ARGUMENT, f + ".port",
                                "must be 0..65535, got " + port.asText());
                    }
                    p = port.intValue();
                }
                boolean pp = false;
                JsonNode ppNode = e.get("pp");
                if (ppNode != null && !ppNode.isNull()) {
                    if (!ppNode.isBoolean()) {
                        throw new RaException(RaException.Reason.WRONG_TYPE, f + ".pp", "must be a boolean");
                    }
                    pp = ppNode.booleanValue();
                }
                ports.add(new Port(p, pp));
            }
        }
        return new PortPolicy(ports, restrict);
    }

    /** The proto JSON form ({@code ports} then {@code restrict_mode}). */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        var arr = o.putArray("ports");
        for (Port p : ports) {
            arr.addObject().put("port", p.port()).put("pp", p.pp());
        }
        o.put("restrict_mode", restrictMode);
        return o;
    }

    /** The open policy. */
    static PortPolicy empty() {
        return OPEN;
    }

    /** Same as {@link Objects#equals}; named for readability at call sites. */
    boolean same(PortPolicy other) {
        return equals(other);
    }
}
