package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A VM's {@code vm-manifest.json}, with upstream's field names ({@code dstack/vmm/src/app.rs} {@code Manifest}):
 * {@code id, name, app_id, vcpu, memory, disk_size, image, port_map[{address, protocol, from, to}], created_at_ms,
 * hugepages, pin_numa, gpus?, kms_urls, gateway_urls, no_tee, simulated_tee?, swtpm, networks, volumes}.
 */
record Manifest(
        String id,
        String name,
        String appId,
        long vcpu,
        long memory,
        long diskSize,
        String image,
        List<PortRule> portMap,
        long createdAtMs,
        boolean hugepages,
        boolean pinNuma,
        Optional<Gpus> gpus,
        List<String> kmsUrls,
        List<String> gatewayUrls,
        boolean noTee,
        Optional<String> simulatedTee,
        List<Network> networks) {
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    static final ObjectMapper MAPPER = new ObjectMapper();

    Manifest {
        Objects.requireNonNull(id);
        Objects.requireNonNull(name);
        Objects.requireNonNull(appId);
        Objects.requireNonNull(image);
        portMap = List.copyOf(portMap);
        kmsUrls = List.copyOf(kmsUrls);
        gatewayUrls = List.copyOf(gatewayUrls);
        networks = List.copyOf(networks);
    }

    /** One host port forward: {@code address} (host IP), {@code protocol}, {@code from} (host), {@code to} (VM). */
    record PortRule(String address, String protocol, int from, int to) {
        /** Upstream's {@code port_mappings_conflict}: same protocol and host port, same or unspecified address. */
        boolean conflicts(PortRule o) {
            return protocol.equals(o.protocol) && from == o.from
                    && (address.equals(o.address) || Ips.isUnspecified(address) || Ips.isUnspecified(o.address));
        }
    }

    /** {@code gpus}: attach mode ({@code listed}/{@code all}) and the slots. */
    record Gpus(String attachMode, List<String> slots) {
        Gpus {
            slots = List.copyOf(slots);
        }
    }

    /** One {@code networks} entry: mode and bridge name. */
    record Network(String mode, String bridge) {}

    Manifest with(long newVcpu, long newMemory, long newDisk, String newImage) {
        return new Manifest(id, name, appId, newVcpu, newMemory, newDisk, newImage, portMap, createdAtMs, hugepages,
                pinNuma, gpus, kmsUrls, gatewayUrls, noTee, simulatedTee, networks);
    }

    Manifest withPorts(List<PortRule> p) {
        return new Manifest(id, name, appId, vcpu, memory, diskSize, image, p, createdAtMs, hugepages, pinNuma, gpus,
                kmsUrls, gatewayUrls, noTee, simulatedTee, networks);
    }

    Manifest withUrls(List<String> kms, List<String> gw) {
        return new Manifest(id, name, appId, vcpu, memory, diskSize, image, portMap, createdAtMs, hugepages, pinNuma,
                gpus, kms, gw, noTee, simulatedTee, networks);
    }

    Manifest withGpusNoTeeNetworks(Optional<Gpus> g, boolean nt, List<Network> n) {
        return new Manifest(id, name, appId, vcpu, memory, diskSize, image, portMap, createdAtMs, hugepages, pinNuma,
                g, kmsUrls, gatewayUrls, nt, simulatedTee, n);
    }

    ObjectNode toJson() {
        ObjectNode o = NODES.objectNode();
        o.put("id", id);
        o.put("name", name);
        o.put("app_id", appId);
        o.put("vcpu", vcpu);
        o.put("memory", memory);
        o.put("disk_size", diskSize);
        o.put("image", image);
        ArrayNode pm = o.putArray("port_map");
        for (PortRule p : portMap) {
            pm.addObject().put("address", p.address()).put("protocol", p.protocol()).put("from", p.from())
                    .put("to", p.to());
        }
        o.put("created_at_ms", createdAtMs);
        o.put("hugepages", hugepages);
        o.put("pin_numa", pinNuma);
        gpus.ifPresent(g -> {
            ObjectNode gn = o.putObject("gpus");
            gn.put("attach_mode", g.attachMode());
            ArrayNode s = gn.putArray("gpus");
            g.slots().forEach(slot -> s.addObject().put("slot", slot));
            gn.putArray("bridges");
        });
        ArrayNode k = o.putArray("kms_urls");
        kmsUrls.forEach(k::add);
        ArrayNode gw = o.putArray("gateway_urls");
        gatewayUrls.forEach(gw::add);
        o.put("no_tee", noTee);
        simulatedTee.ifPresent(s -> o.put("simulated_tee", s));
        o.put("swtpm", false);
        if (!networks.isEmpty()) {
            ArrayNode n = o.putArray("networks");
            networks.forEach(net -> n.addObject().put("mode", net.mode()).put("bridge", net.bridge()));
        }
        o.putArray("volumes");
        return o;
    }

    byte[] toBytes() {
        try {
            return MAPPER.writeValueAsBytes(toJson());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a manifest; throws {@link IllegalArgumentException} naming the field. */
    static Manifest fromJson(JsonNode n) {
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("manifest is not a JSON object");
        }
        List<PortRule> ports = new ArrayList<>();
        for (JsonNode p : arr(n, "port_map")) {
            ports.add(new PortRule(str(p, "address", true), str(p, "protocol", true), (int) num(p, "from", true),
                    (int) num(p, "to", true)));
        }
        Optional<Gpus> gpus = Optional.empty();
        JsonNode g = n.get("gpus");
        if (g != null && g.isObject()) {
            List<String> slots = new ArrayList<>();
            for (JsonNode s : arr(g, "gpus")) {
                slots.add(str(s, "slot", true));
            }
            gpus = Optional.of(new Gpus(str(g, "attach_mode", false).isEmpty() ? "listed" : str(g, "attach_mode",
                    false), slots));
        }
        List<Network> nets = new ArrayList<>();
        for (JsonNode x : arr(n, "networks")) {
            nets.add(new Network(str(x, "mode", false), str(x, "bridge", false)));
        }
        JsonNode legacy = n.get("networking");
        if (nets.isEmpty() && legacy != null && legacy.isObject()) {
            nets.add(new Network(str(legacy, "mode", false), str(legacy, "bridge", false)));
        }
        JsonNode st = n.get("simulated_tee");
        return new Manifest(str(n, "id", true), str(n, "name", true), str(n, "app_id", true), num(n, "vcpu", true),
                num(n, "memory", true), num(n, "disk_size", true), str(n, "image", true), ports,
                num(n, "created_at_ms", true), bool(n, "hugepages"), bool(n, "pin_numa"), gpus, strs(n, "kms_urls"),
                strs(n, "gateway_urls"), bool(n, "no_tee"),
                st == null || st.isNull() ? Optional.empty() : Optional.of(st.asText()), nets);
    }

    private static Iterable<JsonNode> arr(JsonNode n, String f) {
        JsonNode a = n.get(f);
        if (a == null || a.isNull()) {
            return List.of();
        }
        if (!a.isArray()) {
            throw new IllegalArgumentException(f + " is not an array");
        }
        return a;
    }

    private static List<String> strs(JsonNode n, String f) {
        List<String> out = new ArrayList<>();
        for (JsonNode s : arr(n, f)) {
            if (!s.isTextual()) {
                throw new IllegalArgumentException(f + " holds a non-string");
            }
            out.add(s.textValue());
        }
        return out;
    }

    private static String str(JsonNode n, String f, boolean required) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException(f + " is missing");
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(f + " is not a string");
        }
        return v.textValue();
    }

    private static long num(JsonNode n, String f, boolean required) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException(f + " is missing");
            }
            return 0;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
            throw new IllegalArgumentException(f + " is not a non-negative integer");
        }
        return v.longValue();
    }

    private static boolean bool(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(f + " is not a boolean");
        }
        return v.booleanValue();
    }
}
