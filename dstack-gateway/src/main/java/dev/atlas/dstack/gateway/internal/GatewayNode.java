package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsCertificate;

import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The "this node" content (§3.6): {@code /index}, {@code /app-info} (the gateway's own {@code Info}) and
 * {@code /acme-info} ({@code AcmeInfoResponse}, also {@code Gateway.AcmeInfo}).
 *
 * <p>{@code quoted_hist_keys} holds first the keys of the certificates given by {@code servedCertificates} (the 0.5.x
 * static certificate), each quoted here through the gateway's own guest agent with report data
 * {@code SHA-512("zt-cert:" || SPKI)} ({@code distributed_certbot.rs}), once per key; then, with the ZT-domain
 * certbot, every key it issued for a configured ZT-domain (newest first per domain), quoted when issued and stored.
 * {@code account_uri}, {@code account_quote} and {@code account_attestation} come from the certbot's ACME account
 * (empty without one). Without an agent the static keys are not listed (logged once).
 */
public final class GatewayNode implements ThisNode {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.gateway");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HexFormat HEX = HexFormat.of();
    /** The {@code /index} body. */
    public static final String INDEX = "{\"type\":\"dstack gateway\",\"paths\":[\"/index\",\"/app-info\","
            + "\"/acme-info\"]}";
    /** dstack's tag of certificate-key quotes. */
    public static final String ZT_CERT_TAG = "zt-cert";

    private final Optional<GatewayAgent> agent;
    private final Supplier<List<X509Certificate>> servedCertificates;
    private final Optional<ZtCertbot> certbot;
    private final Map<String, ObjectNode> quoted = new LinkedHashMap<>();
    private boolean warned;

    /**
     * @param agent the gateway's guest agent, if any
     * @param servedCertificates the leaf certificates the proxy terminates with (history grows as keys appear)
     */
    public GatewayNode(Optional<GatewayAgent> agent, Supplier<List<X509Certificate>> servedCertificates) {
        this(agent, servedCertificates, Optional.empty());
    }

    /** With the ZT-domain certbot's account and attested keys (issue19-zt). */
    public GatewayNode(Optional<GatewayAgent> agent, Supplier<List<X509Certificate>> servedCertificates,
            Optional<ZtCertbot> certbot) {
        this.agent = agent;
        this.servedCertificates = servedCertificates;
        this.certbot = certbot;
    }

    @Override
    public String indexJson() {
        return INDEX;
    }

    @Override
    public String appInfoJson() throws RaException {
        return agent.orElseThrow(() -> new RaException(Reason.AGENT_UNAVAILABLE, "Info", "this gateway has no guest "
                + "agent (insecure_skip_attestation without DSTACK_AGENT_ADDRESS)")).infoJson();
    }

    @Override
    public String acmeInfoJson() throws RaException {
        return acmeInfo().toString();
    }

    /** {@code AcmeInfoResponse} as JSON. */
    public synchronized ObjectNode acmeInfo() {
        for (X509Certificate c : servedCertificates.get()) {
            byte[] spki = c.getPublicKey().getEncoded();
            String key = HEX.formatHex(spki);
            if (quoted.containsKey(key)) {
                continue;
            }
            if (agent.isEmpty()) {
                if (!warned) {
                    LOG.log(System.Logger.Level.WARNING, "acme-info: no guest agent, the certificate keys cannot be "
                            + "quoted (quoted_hist_keys stays empty)");
                    warned = true;
                }
                break;
            }
            byte[] rd = RaTlsCertificate.reportData(ZT_CERT_TAG, spki);
            try {
                ObjectNode q = JSON.createObjectNode();
                q.put("public_key", key);
                q.put("quote", agent.get().quoteJson(rd));
                q.put("attestation", agent.get().attestJson(rd));
                quoted.put(key, q);
            } catch (RaException e) {
                LOG.log(System.Logger.Level.WARNING, "acme-info: cannot quote the certificate key: " + e.getMessage());
                break;
            }
        }
        Optional<ZtCertbot.AcmeView> acme = certbot.map(ZtCertbot::acmeView);
        ObjectNode o = JSON.createObjectNode();
        o.put("account_uri", acme.map(ZtCertbot.AcmeView::accountUri).orElse(""));
        ArrayNode hist = o.putArray("quoted_hist_keys");
        new ArrayList<>(quoted.values()).forEach(hist::add);
        acme.ifPresent(a -> a.keys().forEach(k -> {
            String key = HEX.formatHex(k.subject());
            if (!quoted.containsKey(key)) {
                hist.addObject().put("public_key", key).put("quote", k.quote()).put("attestation", k.attestation());
            }
        }));
        o.put("account_quote", acme.map(ZtCertbot.AcmeView::accountQuote).orElse(""));
        o.put("account_attestation", acme.map(ZtCertbot.AcmeView::accountAttestation).orElse(""));
        return o;
    }
}
