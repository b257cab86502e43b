package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The request messages of {@code vmm_rpc.proto}, read from pRPC JSON with the proto's field names (missing or null
 * fields take their default; unknown fields are ignored, as serde; wrong types are refused naming the field).
 */
final class VmRequests {
    private VmRequests() {}

    /** {@code PortMapping}. */
    record Port(String protocol, long hostPort, long vmPort, String hostAddress) {}

    /** {@code GpuConfig}. */
    record GpuConfig(List<String> slots, String attachMode) {}

    /** {@code NetworkingConfig}. */
    record Net(String mode, String bridgeName) {}

    /** {@code VmConfiguration}. */
    record VmConfiguration(String name, String image, String composeFile, long vcpu, long memory, long diskSize,
                           List<Port> ports, byte[] encryptedEnv, Optional<String> appId, String userConfig,
                           boolean hugepages, boolean pinNuma, Optional<GpuConfig> gpus, List<String> kmsUrls,
                           List<String> gatewayUrls, boolean stopped, boolean noTee, Optional<Net> networking,
                           List<Net> networks, Optional<String> simulatedTee) {}

    /** {@code UpdateVmRequest}. */
    record UpdateVm(String id, String composeFile, byte[] encryptedEnv, String userConfig, boolean updatePorts,
                    List<Port> ports, boolean updateKmsUrls, List<String> kmsUrls, boolean updateGatewayUrls,
                    List<String> gatewayUrls, Optional<GpuConfig> gpus, OptionalLong vcpu, OptionalLong memory,
                    OptionalLong diskSize, Optional<String> image, Optional<Boolean> noTee,
                    boolean updateNetworking, List<Net> networks) {}

    /** {@code ResizeVmRequest}. */
    record Resize(String id, OptionalLong vcpu, OptionalLong memory, OptionalLong diskSize, Optional<String> image) {}

    /** {@code StatusRequest}. */
    record Status(List<String> ids, boolean brief, String keyword, long page, long pageSize) {}

    static VmConfiguration vmConfiguration(JsonNode m) throws PrpcException {
        return new VmConfiguration(PrpcJson.string(m, "name"), PrpcJson.string(m, "image"),
                PrpcJson.string(m, "compose_file"), PrpcJson.uint32(m, "vcpu"), PrpcJson.uint32(m, "memory"),
                PrpcJson.uint32(m, "disk_size"), ports(m, "ports"), PrpcJson.bytes(m, "encrypted_env"),
                PrpcJson.optionalString(m, "app_id"), PrpcJson.string(m, "user_config"),
                PrpcJson.bool(m, "hugepages"), PrpcJson.bool(m, "pin_numa"), gpus(m),
                PrpcJson.stringList(m, "kms_urls"), PrpcJson.stringList(m, "gateway_urls"),
                PrpcJson.bool(m, "stopped"), PrpcJson.bool(m, "no_tee"),
                PrpcJson.has(m, "networking") ? Optional.of(net(PrpcJson.message(m, "networking"), "networking"))
                        : Optional.empty(),
                nets(m, "networks"), PrpcJson.optionalString(m, "simulated_tee"));
    }

    static UpdateVm updateVm(JsonNode m) throws PrpcException {
        return new UpdateVm(PrpcJson.string(m, "id"), PrpcJson.string(m, "compose_file"),
                PrpcJson.bytes(m, "encrypted_env"), PrpcJson.string(m, "user_config"),
                PrpcJson.bool(m, "update_ports"), ports(m, "ports"), PrpcJson.bool(m, "update_kms_urls"),
                PrpcJson.stringList(m, "kms_urls"), PrpcJson.bool(m, "update_gateway_urls"),
                PrpcJson.stringList(m, "gateway_urls"), gpus(m), optU32(m, "vcpu"), optU32(m, "memory"),
                optU32(m, "disk_size"), PrpcJson.optionalString(m, "image"),
                PrpcJson.has(m, "no_tee") ? Optional.of(PrpcJson.bool(m, "no_tee")) : Optional.empty(),
                PrpcJson.bool(m, "update_networking"), nets(m, "networks"));
    }

    static Resize resize(JsonNode m) throws PrpcException {
        return new Resize(PrpcJson.string(m, "id"), optU32(m, "vcpu"), optU32(m, "memory"), optU32(m, "disk_size"),
                PrpcJson.optionalString(m, "image"));
    }

    static Status status(JsonNode m) throws PrpcException {
        return new Status(PrpcJson.stringList(m, "ids"), PrpcJson.bool(m, "brief"), PrpcJson.string(m, "keyword"),
                PrpcJson.uint32(m, "page"), PrpcJson.uint32(m, "page_size"));
    }

    static String id(JsonNode m) throws PrpcException {
        return PrpcJson.string(m, "id");
    }

    private static OptionalLong optU32(JsonNode m, String f) throws PrpcException {
        return PrpcJson.has(m, f) ? OptionalLong.of(PrpcJson.uint32(m, f)) : OptionalLong.empty();
    }

    private static List<Port> ports(JsonNode m, String f) throws PrpcException {
        List<Port> out = new ArrayList<>();
        if (!PrpcJson.has(m, f)) {
            return out;
        }
        JsonNode a = m.get(f);
        if (!a.isArray()) {
            throw new PrpcException("field `" + f + "`: invalid type: expected an array of PortMapping");
        }
        for (int i = 0; i < a.size(); i++) {
            JsonNode p = a.get(i);
            String pf = f + "[" + i + "]";
            if (!p.isObject()) {
                throw new PrpcException("field `" + pf + "`: invalid type: expected a PortMapping object");
            }
            out.add(new Port(PrpcJson.string(p, "protocol"), PrpcJson.uint32(p, "host_port"),
                    PrpcJson.uint32(p, "vm_port"), PrpcJson.string(p, "host_address")));
        }
        return out;
    }

    private static Optional<GpuConfig> gpus(JsonNode m) throws PrpcException {
        if (!PrpcJson.has(m, "gpus")) {
            return Optional.empty();
        }
        JsonNode g = PrpcJson.message(m, "gpus");
        List<String> slots = new ArrayList<>();
        if (PrpcJson.has(g, "gpus")) {
            JsonNode a = g.get("gpus");
            if (!a.isArray()) {
                throw new PrpcException("field `gpus.gpus`: invalid type: expected an array of GpuSpec");
            }
            for (JsonNode s : a) {
                if (!s.isObject()) {
                    throw new PrpcException("field `gpus.gpus`: invalid type: expected GpuSpec objects");
                }
                slots.add(PrpcJson.string(s, "slot"));
            }
        }
        return Optional.of(new GpuConfig(slots, PrpcJson.string(g, "attach_mode")));
    }

    private static Net net(JsonNode n, String f) throws PrpcException {
        return new Net(PrpcJson.string(n, "mode"), PrpcJson.string(n, "bridge_name"));
    }

    private static List<Net> nets(JsonNode m, String f) throws PrpcException {
        List<Net> out = new ArrayList<>();
        if (!PrpcJson.has(m, f)) {
            return out;
        }
        JsonNode a = m.get(f);
        if (!a.isArray()) {
            throw new PrpcException("field `" + f + "`: invalid type: expected an array of NetworkingConfig");
        }
        for (JsonNode n : a) {
            if (!n.isObject()) {
                throw new PrpcException("field `" + f + "`: invalid type: expected NetworkingConfig objects");
            }
            out.add(net(n, f));
        }
        return out;
    }
}
