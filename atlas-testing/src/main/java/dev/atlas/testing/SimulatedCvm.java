package dev.atlas.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A simulated dstack confidential VM: a TD whose quotes are signed through a {@link MockIntelPki} (the mock
 * QE/PCK chain), with a dstack-style event log whose replay gives the quote's RTMRs.
 *
 * <p>What it models, in dstack's terms:
 * <ul>
 *   <li>a bootchain: MRTD (configurable) and RTMR0-2 produced by the boot events it records
 *       ({@link DstackEventLog}'s seeded boot events);</li>
 *   <li>the runtime events of a CVM booted with the chosen key provider, in dstack's order:
 *       {@code system-preparing}, {@code app-id}, {@code compose-hash} (SHA-256 of the app-compose bytes),
 *       {@code instance-id}, {@code boot-mr-done}, {@code os-image-hash} (KMS key provider only),
 *       {@code key-provider}, {@code system-ready};</li>
 *   <li>{@link #emitEvent}: appending an event and extending RTMR3 are one atomic step, and
 *       {@link #getQuote} reads the log and RTMR3 in one step, so a quote's RTMR3 always matches the log it is
 *       sent with (dstack's own agent had a race there);</li>
 *   <li>{@link #getQuote}: the guest agent's {@code GetQuote} (report data at most 64 bytes, zero-padded), a v4
 *       TDX quote plus the event log, in the {@code GetQuoteResponse} shape.</li>
 * </ul>
 *
 * <p>Only two things differ from production: the trust anchor ({@link #rootCertificate()}, the mock Intel
 * root) and where collateral comes from ({@link #collateralJson()}, or a {@link MockPccs} serving it).
 *
 * <p>The builder's {@code misbehave...}, {@link Builder#tcbStatus} and {@link Builder#debugTd} options make
 * CVMs that a correct verifier must reject; each changes one thing, and each is one {@link Misbehaviour}
 * ({@link #misbehaviours()}).
 *
 * <p>{@link #policyJson(String)} hands out the Atlas policy that accepts exactly this CVM (as
 * {@code MockWebServer.url()} hands out its URL), so tests need not build it themselves.
 *
 * <p>Thread-safe.
 */
public final class SimulatedCvm {
    /** Event type of dstack runtime events. */
    public static final long RUNTIME_EVENT_TYPE = DstackEventLog.RUNTIME_EVENT_TYPE;
    /** The certificate event name (an application convention, see the aTLS spec §2.5). */
    public static final String TLS_CERTIFICATE_EVENT = DstackEventLog.TLS_CERTIFICATE_EVENT;
    /**
     * The app compose used when none is given, in serde's compact form (so that Atlas's {@code app_compose}
     * hashing and dstack's raw-bytes hashing agree on it).
     */
    public static final String DEFAULT_APP_COMPOSE = "{\"manifest_version\":2,\"name\":\"atlas-simulated-app\","
            + "\"runner\":\"docker-compose\",\"docker_compose_file\":\"services:\\n  app:\\n    image: "
            + "atlas/simulated-app:1\\n    ports:\\n      - \\\"8000:8000\\\"\\n\",\"kms_enabled\":true,"
            + "\"gateway_enabled\":false,\"local_key_provider_enabled\":false,\"key_provider\":\"kms\","
            + "\"public_logs\":false,\"public_sysinfo\":false,\"no_instance_id\":false}";
    /** Default MRTD (the MRTD of dstack 0.5.x images seen in real quotes). */
    public static final String DEFAULT_MRTD =
            "b24d3b24e9e3c16012376b52362ca09856c4adecb709d5fac33addf1c47e193da075b125b6c364115771390a5461e217";
    /** Upper bound on runtime events, so that a runaway caller cannot grow the log without limit. */
    public static final int MAX_RUNTIME_EVENTS = 1024;

    /**
     * The ways a simulated CVM can deviate from an honest one, each set by one builder option. All but
     * {@link #STRIP_RUNTIME_DIGESTS} make evidence a correct verifier with the CVM's own
     * {@linkplain #policyJson(String) policy} must reject.
     */
    public enum Misbehaviour {
        /** {@link Builder#tcbStatus}: the platform's TCB level has another status (e.g. {@code OutOfDate}). */
        TCB_STATUS,
        /** {@link Builder#debugTd}: a debug TD (TD attributes DEBUG bit set). */
        DEBUG_TD,
        /** {@link Builder#misbehaveMeasureCompose}: measures a compose other than the declared one. */
        MEASURE_OTHER_COMPOSE,
        /**
         * {@link Builder#misbehaveRewritePayload}: the log it sends carries another payload for one runtime
         * event, while digest and RTMR3 stay honest (Atlas's gap, spec §1.9).
         */
        REWRITE_PAYLOAD,
        /** {@link Builder#misbehaveReplayQuote}: every quote is the first one, whatever the report data. */
        REPLAY_QUOTE,
        /**
         * {@link Builder#stripRuntimeDigests}: runtime events sent with empty digests, as dstack 0.5.6 and later
         * do. Honest: a verifier must accept it.
         */
        STRIP_RUNTIME_DIGESTS
    }

    /** Which key provider the simulated CVM booted with (decides whether {@code os-image-hash} exists). */
    public enum KeyProvider {
        /** dstack KMS: {@code os-image-hash} is measured. */
        KMS("kms"),
        /** SGX local key provider: no {@code os-image-hash}. */
        LOCAL_SGX("local-sgx"),
        /** No key provider: no {@code os-image-hash}. */
        NONE("none");

        private final String wireName;

        KeyProvider(String wireName) {
            this.wireName = wireName;
        }

        /** The name in the {@code key-provider} event payload. */
        public String wireName() {
            return wireName;
        }
    }

    /**
     * The guest agent's {@code GetQuote} response.
     *
     * @param quote       raw quote bytes
     * @param eventLog    the event log as JSON array text (it travels as a JSON string)
     * @param reportData  the 64 report-data bytes the quote carries
     * @param vmConfig    the VM config as JSON text (it travels as a JSON string)
     */
    public record GetQuoteResponse(byte[] quote, String eventLog, byte[] reportData, String vmConfig) {
        public GetQuoteResponse {
            quote = quote.clone();
            reportData = reportData.clone();
            Objects.requireNonNull(eventLog);
            Objects.requireNonNull(vmConfig);
        }

        @Override
        public byte[] quote() {
            return quote.clone();
        }

        @Override
        public byte[] reportData() {
            return reportData.clone();
        }

        /** The JSON the guest agent sends: {@code quote}, {@code event_log}, {@code report_data}, {@code vm_config}. */
        public String json() {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("quote", HEX.formatHex(quote));
            o.put("event_log", eventLog);
            o.put("report_data", HEX.formatHex(reportData));
            o.put("vm_config", vmConfig);
            return o.toString();
        }

        @Override
        public String toString() {
            return "GetQuoteResponse[" + quote.length + " quote bytes, event log " + eventLog.length() + " chars]";
        }
    }

    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Builder config;
    private final MockIntelPki pki;
    private final List<DstackEventLog.Entry> bootEvents;
    private final String[] bootRtmrs = new String[3];
    private final byte[] composeBytes;
    private final byte[] measuredComposeHash;
    private final byte[] appId;
    private final byte[] instanceId;
    private final String vmConfig;

    private final Object lock = new Object();
    private final List<DstackEventLog.Entry> runtimeEvents = new ArrayList<>(); // guarded by lock
    private byte[] rtmr3 = new byte[48]; // guarded by lock
    private GetQuoteResponse firstQuote; // guarded by lock; for misbehaveReplayQuote

    private SimulatedCvm(Builder b) {
        this.config = b;
        this.pki = b.pki != null ? b.pki : MockIntelPki.builder().seed(b.seed).build();
        DstackEventLog boot = DstackEventLog.builder().seed(b.seed).build();
        this.bootEvents = boot.entries();
        for (int i = 0; i < 3; i++) {
            bootRtmrs[i] = boot.rtmr(i);
        }
        this.composeBytes = b.appCompose.clone();
        byte[] measured = b.measuredCompose != null ? b.measuredCompose : composeBytes;
        this.measuredComposeHash = DstackEventLog.sha256(measured);
        this.appId = b.appId != null ? b.appId.clone() : Arrays.copyOf(measuredComposeHash, 20);
        this.instanceId = b.instanceId != null ? b.instanceId.clone() : Arrays.copyOf(DstackEventLog.sha256(appId,
                ("atlas-simulated-instance-" + b.seed).getBytes(StandardCharsets.UTF_8)), 20);
        this.vmConfig = "{\"spec_version\":1,\"os_image_hash\":\"" + b.osImageHash + "\",\"cpu_count\":2,"
                + "\"memory_size\":2147483648,\"qemu_single_pass_add_pages\":false,\"pic\":true,"
                + "\"pci_hole64_size\":0,\"hugepages\":false,\"num_gpus\":0,\"num_nvswitches\":0,"
                + "\"hotplug_off\":false}";

        // dstack's boot sequence (spec §3.5), KMS key provider unless configured otherwise.
        emit("system-preparing", new byte[0]);
        emit("app-id", appId);
        emit("compose-hash", measuredComposeHash);
        emit("instance-id", instanceId);
        emit("boot-mr-done", new byte[0]);
        if (b.stopAtBootMrDone) {
            return; // the owner records the rest (a guest asking a real KMS for its keys)
        }
        if (b.keyProvider == KeyProvider.KMS) {
            emit("os-image-hash", HEX.parseHex(b.osImageHash));
        }
        String kp = "{\"name\":\"" + b.keyProvider.wireName() + "\",\"id\":\""
                + HEX.formatHex(DstackEventLog.sha256(("atlas-simulated-key-provider-" + b.seed)
                        .getBytes(StandardCharsets.UTF_8))) + "\"}";
        emit("key-provider", kp.getBytes(StandardCharsets.UTF_8));
        emit("system-ready", new byte[0]);
    }

    /** A builder with the defaults: KMS key provider, {@link #DEFAULT_APP_COMPOSE}, seed 1, system clock. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Appends a runtime event to the log and extends RTMR3 with its digest, as one atomic step (the guest
     * agent's former {@code EmitEvent}).
     *
     * @throws IllegalArgumentException for an empty or over-long name (1 KiB), an over-long payload (1 MiB),
     *                                  or when {@link #MAX_RUNTIME_EVENTS} is reached
     */
    public void emitEvent(String name, byte[] payload) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(payload, "payload");
        if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > 1024) {
            throw new IllegalArgumentException("event name must be 1..1024 bytes");
        }
        if (payload.length > (1 << 20)) {
            throw new IllegalArgumentException("event payload exceeds 1 MiB");
        }
        emit(name, payload.clone());
    }

    /** Measures a TLS certificate: the {@code New TLS Certificate} event with the hex SHA-256 of its DER. */
    public void measureTlsCertificate(byte[] certificateDer) {
        emitEvent(TLS_CERTIFICATE_EVENT,
                DstackEventLog.certificateHashHex(certificateDer).getBytes(StandardCharsets.US_ASCII));
    }

    private void emit(String name, byte[] payload) {
        byte[] digest = DstackEventLog.runtimeDigest(name, payload);
        DstackEventLog.Entry e = new DstackEventLog.Entry(3, RUNTIME_EVENT_TYPE, HEX.formatHex(digest), name,
                HEX.formatHex(payload));
        synchronized (lock) {
            if (runtimeEvents.size() >= MAX_RUNTIME_EVENTS) {
                throw new IllegalArgumentException("the simulated CVM holds at most " + MAX_RUNTIME_EVENTS
                        + " runtime events");
            }
            runtimeEvents.add(e);
            rtmr3 = DstackEventLog.sha384(rtmr3, digest);
        }
    }

    /**
     * The guest agent's {@code GetQuote}: a quote over {@code reportData} (at most 64 bytes, zero-padded to 64)
     * with the current event log.
     *
     * @throws IllegalArgumentException when {@code reportData} is longer than 64 bytes ("Report data is too long")
     */
    public GetQuoteResponse getQuote(byte[] reportData) {
        Objects.requireNonNull(reportData, "reportData");
        if (reportData.length > 64) {
            throw new IllegalArgumentException("Report data is too long");
        }
        byte[] padded = Arrays.copyOf(reportData, 64);
        List<DstackEventLog.Entry> events;
        byte[] mr3;
        synchronized (lock) {
            if (config.replayQuote && firstQuote != null) {
                return firstQuote;
            }
            events = new ArrayList<>(bootEvents);
            events.addAll(runtimeEvents);
            mr3 = rtmr3.clone();
        }
        DcapEvidence ev = evidence(padded, mr3);
        GetQuoteResponse r = new GetQuoteResponse(ev.quote(), eventLogJson(events), padded, vmConfig);
        if (config.replayQuote) {
            synchronized (lock) {
                if (firstQuote == null) {
                    firstQuote = r;
                }
                return firstQuote;
            }
        }
        return r;
    }

    private DcapEvidence evidence(byte[] reportData, byte[] mr3) {
        Instant now = config.clock.instant();
        DcapEvidence.Builder b = DcapEvidence.tdx().seed(config.seed).pki(pki)
                .mrTd(config.mrTd)
                .reportData(HEX.formatHex(reportData))
                .collateralWindow(now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(30)))
                .verificationTime(now);
        for (int i = 0; i < 3; i++) {
            b.rtmr(i, bootRtmrs[i]);
        }
        b.rtmr(3, HEX.formatHex(mr3));
        if (config.debugTd) {
            b.tdAttributes("0100001000000000");
        }
        if (config.tcbStatus != null) {
            String status = config.tcbStatus;
            b.tcbInfo(ti -> ((ObjectNode) ti.get("tcbLevels").get(0)).put("tcbStatus", status));
        }
        return b.build();
    }

    private String eventLogJson(List<DstackEventLog.Entry> events) {
        ArrayNode arr = MAPPER.createArrayNode();
        boolean rewritten = false;
        for (DstackEventLog.Entry e : events) {
            String payload = e.payloadHex();
            if (!rewritten && config.rewriteEvent != null && e.isRuntime() && e.event().equals(config.rewriteEvent)) {
                payload = HEX.formatHex(config.rewritePayload);
                rewritten = true;
            }
            ObjectNode o = arr.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", e.isRuntime() && config.stripRuntimeDigests ? "" : e.digestHex());
            o.put("event", e.event());
            o.put("event_payload", payload);
        }
        return arr.toString();
    }

    /**
     * The collateral (dcap-qvl {@code QuoteCollateralV3} JSON) for this CVM's quotes, valid from a day before
     * the clock's current time for 30 days (mock-attestation does the same).
     */
    public String collateralJson() {
        return evidence(new byte[64], new byte[48]).collateralJson();
    }

    /** The guest agent's {@code Info().tcb_info} as JSON object text (measurements, event log, app compose). */
    public String tcbInfoJson() {
        List<DstackEventLog.Entry> events;
        String mr3;
        synchronized (lock) {
            events = new ArrayList<>(bootEvents);
            events.addAll(runtimeEvents);
            mr3 = HEX.formatHex(rtmr3);
        }
        ObjectNode o = MAPPER.createObjectNode();
        o.put("mrtd", config.mrTd);
        for (int i = 0; i < 3; i++) {
            o.put("rtmr" + i, bootRtmrs[i]);
        }
        o.put("rtmr3", mr3);
        o.put("mr_aggregated", HEX.formatHex(DstackEventLog.sha256(HEX.parseHex(config.mrTd),
                HEX.parseHex(bootRtmrs[0]), HEX.parseHex(bootRtmrs[1]), HEX.parseHex(bootRtmrs[2]),
                HEX.parseHex(mr3))));
        o.put("os_image_hash", config.keyProvider == KeyProvider.KMS ? config.osImageHash : "");
        o.put("compose_hash", HEX.formatHex(measuredComposeHash));
        o.put("device_id", HEX.formatHex(DstackEventLog.sha256(
                ("atlas-simulated-device-" + config.seed).getBytes(StandardCharsets.UTF_8))));
        try {
            o.set("event_log", MAPPER.readTree(eventLogJson(events)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        o.put("app_compose", new String(composeBytes, StandardCharsets.UTF_8));
        return o.toString();
    }

    /** The mock Intel root CA: the trust anchor a verifier must be given (through its for-testing API). */
    public X509Certificate rootCertificate() {
        return pki.rootCertificate();
    }

    /** {@link #rootCertificate()} as PEM. */
    public String rootCertificatePem() {
        return MockIntelPki.pem(pki.rootCertificate());
    }

    /** The mock PKI behind the quotes and collateral. */
    public MockIntelPki pki() {
        return pki;
    }

    /** MRTD, lowercase hex. */
    public String mrTd() {
        return config.mrTd;
    }

    /** RTMR{@code index} (0..3) now, lowercase hex. */
    public String rtmr(int index) {
        if (index < 0 || index > 3) {
            throw new IllegalArgumentException("RTMR index must be 0..3");
        }
        if (index < 3) {
            return bootRtmrs[index];
        }
        synchronized (lock) {
            return HEX.formatHex(rtmr3);
        }
    }

    /** The app compose bytes this CVM was given (what an operator declares and a policy should expect). */
    public byte[] appCompose() {
        return composeBytes.clone();
    }

    /** SHA-256 of {@link #appCompose()}, lowercase hex. */
    public String composeHash() {
        return HEX.formatHex(DstackEventLog.sha256(composeBytes));
    }

    /** The OS image hash (measured only with the KMS key provider), lowercase hex. */
    public String osImageHash() {
        return config.osImageHash;
    }

    /** The key provider the CVM booted with. */
    public KeyProvider keyProvider() {
        return config.keyProvider;
    }

    /** App id (20 bytes), lowercase hex. */
    public String appId() {
        return HEX.formatHex(appId);
    }

    /** The VM config JSON text sent with every quote. */
    public String vmConfig() {
        return vmConfig;
    }

    /** Number of runtime events in the log. */
    public int runtimeEventCount() {
        synchronized (lock) {
            return runtimeEvents.size();
        }
    }

    /** How this CVM deviates from an honest one (empty for an honest CVM). */
    public Set<Misbehaviour> misbehaviours() {
        EnumSet<Misbehaviour> m = EnumSet.noneOf(Misbehaviour.class);
        if (config.tcbStatus != null) {
            m.add(Misbehaviour.TCB_STATUS);
        }
        if (config.debugTd) {
            m.add(Misbehaviour.DEBUG_TD);
        }
        if (config.measuredCompose != null) {
            m.add(Misbehaviour.MEASURE_OTHER_COMPOSE);
        }
        if (config.rewriteEvent != null) {
            m.add(Misbehaviour.REWRITE_PAYLOAD);
        }
        if (config.replayQuote) {
            m.add(Misbehaviour.REPLAY_QUOTE);
        }
        if (config.stripRuntimeDigests) {
            m.add(Misbehaviour.STRIP_RUNTIME_DIGESTS);
        }
        return Set.copyOf(m);
    }

    /**
     * The Atlas {@code dstack_tdx} policy JSON that accepts this CVM's declared measurements: its bootchain
     * (MRTD, RTMR0-2), its declared app compose ({@code app_compose_raw}, the exact bytes), its OS image hash,
     * collateral from {@code pccsUrl} (typically {@link MockPccs#tdxUrl()}), cached; the default TCB statuses.
     * An honest CVM verifies under it; a {@linkplain Misbehaviour misbehaving} one fails on what it changed.
     */
    public String policyJson(String pccsUrl) {
        Objects.requireNonNull(pccsUrl, "pccsUrl");
        ObjectNode o = MAPPER.createObjectNode();
        o.put("type", "dstack_tdx");
        ObjectNode b = o.putObject("expected_bootchain");
        b.put("mrtd", mrTd());
        b.put("rtmr0", rtmr(0));
        b.put("rtmr1", rtmr(1));
        b.put("rtmr2", rtmr(2));
        o.put("app_compose_raw", new String(appCompose(), StandardCharsets.UTF_8));
        o.put("os_image_hash", osImageHash());
        o.put("pccs_url", pccsUrl);
        o.put("cache_collateral", true);
        return o.toString();
    }

    /** A short description of how this CVM misbehaves, or "honest". */
    public String behaviour() {
        List<String> parts = new ArrayList<>();
        if (config.tcbStatus != null) {
            parts.add("TCB status " + config.tcbStatus);
        }
        if (config.debugTd) {
            parts.add("debug TD");
        }
        if (config.measuredCompose != null) {
            parts.add("measures a compose other than the declared one");
        }
        if (config.rewriteEvent != null) {
            parts.add("rewrites the payload of " + config.rewriteEvent + " in the log it sends");
        }
        if (config.replayQuote) {
            parts.add("replays its first quote");
        }
        if (config.stripRuntimeDigests) {
            parts.add("sends runtime digests empty (dstack >= 0.5.6)");
        }
        return parts.isEmpty() ? "honest" : String.join(", ", parts);
    }

    @Override
    public String toString() {
        return "SimulatedCvm[" + behaviour() + ", key provider " + config.keyProvider.wireName() + "]";
    }

    /** Builder. Defaults make an honest CVM whose evidence verifies as {@code UpToDate}. */
    public static final class Builder {
        private long seed = 1;
        private MockIntelPki pki;
        private Clock clock = Clock.systemUTC();
        private String mrTd = DEFAULT_MRTD;
        private byte[] appCompose = DEFAULT_APP_COMPOSE.getBytes(StandardCharsets.UTF_8);
        private byte[] appId;
        private byte[] instanceId;
        private String osImageHash;
        private KeyProvider keyProvider = KeyProvider.KMS;
        private boolean stripRuntimeDigests;
        private String tcbStatus;
        private boolean debugTd;
        private byte[] measuredCompose;
        private String rewriteEvent;
        private byte[] rewritePayload;
        private boolean replayQuote;
        private boolean stopAtBootMrDone;

        private Builder() {
        }

        /** Seed for the mock PKI, boot events and ids (default 1). Same seed, same root and bootchain. */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Use this mock PKI instead of the seeded one. */
        public Builder pki(MockIntelPki p) {
            this.pki = Objects.requireNonNull(p);
            return this;
        }

        /** Clock for collateral validity windows (default: system UTC). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /** MRTD, 96 hex characters (default {@link #DEFAULT_MRTD}). */
        public Builder mrTd(String hex48) {
            this.mrTd = hex(hex48, 48, "MRTD");
            return this;
        }

        /** The app-compose.json bytes; the CVM measures their SHA-256 as {@code compose-hash}. */
        public Builder appCompose(byte[] bytes) {
            if (bytes.length == 0 || bytes.length > (1 << 20)) {
                throw new IllegalArgumentException("app compose must be 1 byte to 1 MiB");
            }
            this.appCompose = bytes.clone();
            return this;
        }

        /** The app id (20 bytes); default: the first 20 bytes of the compose hash, as dstack without KMS app id. */
        public Builder appId(String hex20) {
            this.appId = HEX.parseHex(hex(hex20, 20, "app id"));
            return this;
        }

        /**
         * The instance id measured as {@code instance-id}: 20 bytes, or empty for {@code no_instance_id} (dstack's
         * {@code SHA-256(instance_id_seed ‖ app_id)[0..20]} computed by the caller, as the simulated guest OS does);
         * default derived from the app id and the seed.
         */
        public Builder instanceId(byte[] id) {
            if (id.length != 0 && id.length != 20) {
                throw new IllegalArgumentException("instance id must be 0 or 20 bytes, got " + id.length);
            }
            this.instanceId = id.clone();
            return this;
        }

        /** The OS image hash (64 hex); default derived from the seed. */
        public Builder osImageHash(String hex32) {
            this.osImageHash = hex(hex32, 32, "OS image hash");
            return this;
        }

        /**
         * Record the boot events only up to and including {@code boot-mr-done}; the owner then records
         * {@code os-image-hash}, {@code key-provider} and {@code system-ready} itself with {@link #emitEvent}, as a
         * guest that gets its keys from a real KMS does (dstack-simulator's KMS mode).
         */
        public Builder stopAtBootMrDone() {
            this.stopAtBootMrDone = true;
            return this;
        }

        /** The key provider (default KMS, the only one with an {@code os-image-hash} event). */
        public Builder keyProvider(KeyProvider k) {
            this.keyProvider = Objects.requireNonNull(k);
            return this;
        }

        /** Send runtime events with an empty digest, as dstack 0.5.6 and later do (honest). */
        public Builder stripRuntimeDigests() {
            this.stripRuntimeDigests = true;
            return this;
        }

        /** Misbehaviour: the platform's TCB level has this status (e.g. {@code OutOfDate}) in the collateral. */
        public Builder tcbStatus(String status) {
            this.tcbStatus = Objects.requireNonNull(status);
            return this;
        }

        /** Misbehaviour: a debug TD (TD attributes DEBUG bit set). */
        public Builder debugTd() {
            this.debugTd = true;
            return this;
        }

        /**
         * Misbehaviour: the CVM measures (and runs) {@code actual} while {@link #appCompose()} still reports the
         * declared compose, so a policy written from the declaration fails on the compose hash.
         */
        public Builder misbehaveMeasureCompose(byte[] actual) {
            this.measuredCompose = actual.clone();
            return this;
        }

        /**
         * Misbehaviour: the event log it sends carries {@code payload} for the first runtime event named
         * {@code event}, while the digest and RTMR3 stay those of the honest payload (Atlas's gap, spec §1.9).
         */
        public Builder misbehaveRewritePayload(String event, byte[] payload) {
            this.rewriteEvent = Objects.requireNonNull(event);
            this.rewritePayload = payload.clone();
            return this;
        }

        /** Misbehaviour: every {@code getQuote} returns the first quote it made, whatever the report data. */
        public Builder misbehaveReplayQuote() {
            this.replayQuote = true;
            return this;
        }

        public SimulatedCvm build() {
            if (osImageHash == null) {
                osImageHash = HEX.formatHex(DstackEventLog.sha256(
                        ("atlas-simulated-os-image-" + seed).getBytes(StandardCharsets.UTF_8)));
            }
            return new SimulatedCvm(copy());
        }

        /** A snapshot, so that changing this builder later does not change a built CVM. */
        private Builder copy() {
            Builder c = new Builder();
            c.seed = seed;
            c.pki = pki;
            c.clock = clock;
            c.mrTd = mrTd;
            c.appCompose = appCompose;
            c.appId = appId;
            c.instanceId = instanceId;
            c.osImageHash = osImageHash;
            c.keyProvider = keyProvider;
            c.stripRuntimeDigests = stripRuntimeDigests;
            c.tcbStatus = tcbStatus;
            c.debugTd = debugTd;
            c.measuredCompose = measuredCompose;
            c.rewriteEvent = rewriteEvent;
            c.rewritePayload = rewritePayload;
            c.replayQuote = replayQuote;
            c.stopAtBootMrDone = stopAtBootMrDone;
            return c;
        }

        private static String hex(String s, int bytes, String what) {
            Objects.requireNonNull(s, what);
            if (s.length() != 2 * bytes || !s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw new IllegalArgumentException(what + " must be " + 2 * bytes + " lowercase hex characters");
            }
            return s;
        }
    }
}
