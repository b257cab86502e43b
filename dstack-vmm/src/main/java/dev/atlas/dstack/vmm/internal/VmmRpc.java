package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.dstack.vmm.ImageInfo;
import dev.atlas.dstack.vmm.VmmConfig;

import java.time.Clock;
import java.time.Duration;

/**
 * The {@code Vmm} pRPC service ({@code vmm_rpc.proto}; upstream {@code main_service.rs}) on a
 * {@link PrpcDispatcher} with the legacy {@code Teepod.} prefix trimmed. JSON field names are the proto's.
 */
public final class VmmRpc {
    /** Reported by {@code Version} and the {@code X-App-Version} header. */
    public static final String VERSION = "0.5.5";
    /** Our build, reported as {@code Version.rev}. */
    public static final String REV = "atlas-java";

    private VmmRpc() {}

    public static PrpcDispatcher dispatcher(VmManager vms, Clock clock, Duration kmsTimeout) {
        VmmConfig config = vms.config();
        EnvKeys envKeys = new EnvKeys(config.kmsUrl(), clock, kmsTimeout);
        PrpcDispatcher.Builder b = PrpcDispatcher.builder().trimPrefix("Teepod.").appVersion(VERSION);
        b.method("CreateVm", (m, c) -> id(vms.create(VmRequests.vmConfiguration(m))));
        b.method("StartVm", (m, c) -> {
            vms.start(VmRequests.id(m));
            return empty();
        });
        b.method("StopVm", (m, c) -> {
            vms.stop(VmRequests.id(m));
            return empty();
        });
        b.method("ShutdownVm", (m, c) -> {
            vms.shutdown(VmRequests.id(m));
            return empty();
        });
        b.method("RemoveVm", (m, c) -> {
            vms.remove(VmRequests.id(m));
            return empty();
        });
        b.method("UpgradeApp", (m, c) -> id(vms.update(VmRequests.updateVm(m))));
        b.method("UpdateVm", (m, c) -> id(vms.update(VmRequests.updateVm(m))));
        b.method("ResizeVm", (m, c) -> {
            vms.resize(VmRequests.resize(m));
            return empty();
        });
        b.method("GetComposeHash", (m, c) -> {
            ObjectNode o = empty();
            o.put("hash", VmManager.composeHash(VmRequests.vmConfiguration(m)));
            return o;
        });
        b.method("Status", (m, c) -> vms.status(VmRequests.status(m)));
        b.method("GetInfo", (m, c) -> vms.getInfo(VmRequests.id(m)));
        b.method("ListImages", (m, c) -> {
            ObjectNode o = empty();
            ArrayNode a = o.putArray("images");
            for (ImageInfo i : vms.images().list()) {
                a.addObject().put("name", i.name()).put("description", Images.description(i))
                        .put("version", i.version()).put("is_dev", i.isDev());
            }
            return o;
        });
        b.method("GetAppEnvEncryptPubKey", (m, c) -> envKeys.get(PrpcJson.bytes(m, "app_id")));
        b.method("Version", (m, c) -> {
            ObjectNode o = empty();
            o.put("version", VERSION);
            o.put("rev", REV);
            return o;
        });
        b.method("GetMeta", (m, c) -> meta(config));
        b.method("ListGpus", (m, c) -> {
            ObjectNode o = empty();
            o.putArray("gpus");
            o.put("allow_attach_all", config.cvm().gpu().allowAttachAll());
            return o;
        });
        b.method("ReloadVms", (m, c) -> vms.reload());
        b.method("SvList", (m, c) -> {
            ObjectNode o = empty();
            o.putArray("processes");
            return o;
        });
        b.method("SvStop", (m, c) -> {
            throw new PrpcException("this VMM has no supervisor process: use StopVm");
        });
        b.method("SvRemove", (m, c) -> {
            throw new PrpcException("this VMM has no supervisor process: use RemoveVm");
        });
        b.method("ListRegistryImages", (m, c) -> {
            ObjectNode o = empty();
            o.putArray("images");
            return o;
        });
        b.method("PullRegistryImage", (m, c) -> {
            throw new PrpcException("image registry is not configured");
        });
        b.method("DeleteImage", (m, c) -> {
            throw new PrpcException("DeleteImage is not supported by this VMM: remove the directory under "
                    + "[image] path");
        });
        return b.build();
    }

    /** {@code GetMetaResponse} ({@code main_service.rs} {@code get_meta}). */
    static ObjectNode meta(VmmConfig config) {
        ObjectNode o = empty();
        VmmConfig.Cvm cvm = config.cvm();
        ObjectNode kms = o.putObject("kms");
        kms.put("url", cvm.kmsUrls().isEmpty() ? "" : cvm.kmsUrls().get(0));
        ArrayNode ku = kms.putArray("urls");
        cvm.kmsUrls().forEach(ku::add);
        ObjectNode gw = o.putObject("gateway");
        gw.put("url", cvm.gatewayUrls().isEmpty() ? "" : cvm.gatewayUrls().get(0));
        gw.put("base_domain", config.gateway().baseDomain());
        gw.put("port", config.gateway().port());
        gw.put("agent_port", config.gateway().agentPort());
        ArrayNode gu = gw.putArray("urls");
        cvm.gatewayUrls().forEach(gu::add);
        ObjectNode res = o.putObject("resources");
        res.put("max_cvm_number", cvm.cidPoolSize());
        res.put("max_allocable_vcpu", cvm.maxAllocableVcpu());
        res.put("max_allocable_memory_in_mb", cvm.maxAllocableMemoryMb());
        ObjectNode net = o.putObject("networking");
        ArrayNode modes = net.putArray("supported_modes");
        modes.add("user");
        if (!cvm.networking().bridge().isEmpty()) {
            modes.add("bridge");
        }
        net.put("default_mode", cvm.networking().mode().equals("custom") ? "" : cvm.networking().mode());
        net.put("default_bridge", cvm.networking().bridge());
        return o;
    }

    private static ObjectNode id(String id) {
        ObjectNode o = empty();
        o.put("id", id);
        return o;
    }

    private static ObjectNode empty() {
        return Manifest.NODES.objectNode();
    }
}
