package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.DstackGuestException;
import dev.atlas.dstack.guest.Endpoint;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The gateway's own guest agent (its CVM), found as dstack's components find it ({@code dstack-types}
 * {@code dstack_agent_address}): {@code DSTACK_AGENT_ADDRESS}, else the first of {@code /var/run/dstack/dstack.sock}
 * and {@code /var/run/dstack.sock} that exists, else the first. Used for the RPC certificate ({@code rpc_domain}),
 * the gateway's app id ({@code GetPeers}), {@code /app-info} and the quotes of {@code /acme-info}.
 */
public final class GatewayAgent {
    static final List<Path> SOCKETS = List.of(Path.of("/var/run/dstack/dstack.sock"),
            Path.of("/var/run/dstack.sock"));
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();

    private final DstackClient client;

    public GatewayAgent(DstackClient client) {
        this.client = Objects.requireNonNull(client, "client");
    }

    /** The agent at the address of {@code env}. */
    public static GatewayAgent connect(Map<String, String> env) throws RaException {
        String explicit = env.get(Endpoint.AGENT_ADDRESS_ENV);
        String endpoint = explicit != null && !explicit.isEmpty() ? explicit
                : SOCKETS.stream().filter(Files::exists).findFirst().orElse(SOCKETS.get(0)).toString();
        try {
            return new GatewayAgent(DstackClient.builder().environment(Map.of()).endpoint(endpoint).build());
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, Endpoint.AGENT_ADDRESS_ENV, "not a guest agent address: "
                    + e.getMessage());
        }
    }

    private RaException down(String call, DstackGuestException e) {
        return new RaException(Reason.AGENT_UNAVAILABLE, call, "the gateway's own guest agent at "
                + client.endpoint() + " failed: " + e.reason(), e);
    }

    public AppInfo info() throws RaException {
        try {
            return client.info();
        } catch (DstackGuestException e) {
            throw down("Info", e);
        }
    }

    /** The {@code Info} response as the agent's JSON ({@code agent_rpc.proto} {@code AppInfo} field names). */
    public String infoJson() throws RaException {
        AppInfo i = info();
        ObjectNode o = JSON.createObjectNode();
        o.put("app_id", i.appId());
        o.put("instance_id", i.instanceId());
        o.put("app_cert", i.appCert());
        o.put("tcb_info", i.tcbInfo());
        o.put("app_name", i.appName());
        o.put("device_id", i.deviceId());
        o.put("mr_aggregated", i.mrAggregated());
        o.put("os_image_hash", i.osImageHash());
        o.put("key_provider_info", i.keyProviderInfo());
        o.put("compose_hash", i.composeHash());
        o.put("vm_config", i.vmConfig());
        o.put("cloud_vendor", i.cloudVendor());
        o.put("cloud_product", i.cloudProduct());
        return o.toString();
    }

    /** {@code GetQuote(report_data)} as {@code GetQuoteResponse} JSON. */
    public String quoteJson(byte[] reportData) throws RaException {
        Quote q;
        try {
            q = client.getQuote(reportData);
        } catch (DstackGuestException e) {
            throw down("GetQuote", e);
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("quote", HEX.formatHex(q.quote()));
        o.put("event_log", q.eventLog());
        o.put("report_data", HEX.formatHex(q.reportData()));
        o.put("vm_config", q.vmConfig());
        return o.toString();
    }

    /** {@code Attest(report_data)} as {@code AttestResponse} JSON. */
    public String attestJson(byte[] reportData) throws RaException {
        try {
            return JSON.createObjectNode().put("attestation", HEX.formatHex(client.attest(reportData))).toString();
        } catch (DstackGuestException e) {
            throw down("Attest", e);
        }
    }

    /** {@code GetTlsKey} as the gateway asks for its RPC certificate ({@code main.rs} {@code gen_certs}). */
    public TlsKey rpcCertificate(List<String> altNames) throws RaException {
        try {
            return client.getTlsKey(TlsKeyRequest.builder().subject("dstack-gateway").altNames(altNames)
                    .usageRaTls(true).usageServerAuth(true).usageClientAuth(true).withAppInfo(true).build());
        } catch (DstackGuestException e) {
            throw down("GetTlsKey", e);
        }
    }

    @Override
    public String toString() {
        return "guest agent " + client.endpoint();
    }
}
