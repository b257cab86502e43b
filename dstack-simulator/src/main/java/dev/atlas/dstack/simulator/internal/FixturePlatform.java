package dev.atlas.dstack.simulator.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.MockIntelPki;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Upstream's simulator platform ({@code guest-agent-simulator/src/simulator.rs}): a fixture
 * {@link VersionedAttestation} replayed for every call.
 * <ul>
 *   <li>{@code Info} decodes the fixture unchanged;</li>
 *   <li>{@code GetQuote}, {@code Attest} and certificate attestations start from the fixture with the requested
 *       report data patched into the quote and the attestation ({@code patch_report_data}, on by default): the
 *       quote's Intel signature then no longer verifies. Without patching the fixture's report data stays;</li>
 *   <li>with a mock PKI ({@code mock_attestation_seed} upstream), the quote is re-made and signed by the mock
 *       Intel chain, keeping the fixture's MRTD and RTMR0-3 (so the fixture's event log still replays) and
 *       carrying the requested report data: it verifies against the mock root and its collateral. In this mode
 *       {@code EmitEvent} works too: the event is appended and RTMR3 extended;</li>
 *   <li>{@code GetQuote}'s {@code attestation} is the V1 form (as upstream's simulator); {@code Attest} and
 *       certificate attestations keep a V0 fixture V0.</li>
 * </ul>
 */
public final class FixturePlatform implements Platform {
    private static final HexFormat HEX = HexFormat.of();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final VersionedAttestation fixture;
    private final boolean patchReportData;
    private final MockIntelPki pki;
    private final long seed;
    private final Clock clock;
    private final String appCompose;

    private final Object lock = new Object();
    private final List<TdxEvent> extraEvents = new ArrayList<>(); // guarded by lock
    private final List<RuntimeEvent> extraRuntime = new ArrayList<>(); // guarded by lock
    private byte[] rtmr3; // guarded by lock

    /**
     * @param fixture         the attestation file's content
     * @param patchReportData {@code patch_report_data}
     * @param pki             the mock Intel PKI that re-signs quotes, or null for upstream's default behaviour
     * @param seed            seed for the mock evidence (with {@code pki})
     * @param clock           collateral validity (with {@code pki})
     * @param appCompose      the app compose text (for the policy)
     */
    public FixturePlatform(VersionedAttestation fixture, boolean patchReportData, MockIntelPki pki, long seed,
            Clock clock, String appCompose) {
        this.fixture = Objects.requireNonNull(fixture);
        this.patchReportData = patchReportData;
        this.pki = pki;
        this.seed = seed;
        this.clock = Objects.requireNonNull(clock);
        this.appCompose = Objects.requireNonNull(appCompose);
        this.rtmr3 = EventLogs.register(fixture.quote(), 520);
    }

    /** The current attestation with {@code reportData64} as upstream's {@code prepare_attestation}. */
    @Override
    public VersionedAttestation attestation(byte[] reportData64) throws RaException {
        if (pki != null) {
            List<TdxEvent> events;
            List<RuntimeEvent> runtime;
            byte[] mr3;
            synchronized (lock) {
                events = new ArrayList<>(fixture.eventLog());
                events.addAll(extraEvents);
                runtime = new ArrayList<>(fixture.runtimeEvents());
                runtime.addAll(extraRuntime);
                mr3 = rtmr3.clone();
            }
            byte[] quote = evidence(reportData64, mr3).quote();
            return new VersionedAttestation(fixture.version(), quote, events, runtime, reportData64, fixture.config(),
                    fixture.reportDataPayload());
        }
        if (!patchReportData) {
            return fixture;
        }
        return new VersionedAttestation(fixture.version(), EventLogs.patchReportData(fixture.quote(), reportData64),
                fixture.eventLog(), fixture.runtimeEvents(), reportData64, fixture.config(),
                fixture.reportDataPayload());
    }

    private DcapEvidence evidence(byte[] reportData64, byte[] mr3) {
        byte[] q = fixture.quote();
        Instant now = clock.instant();
        DcapEvidence.Builder b = DcapEvidence.tdx().seed(seed).pki(pki)
                .mrTd(HEX.formatHex(EventLogs.register(q, 184)))
                .reportData(HEX.formatHex(reportData64))
                .collateralWindow(now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(30)))
                .verificationTime(now);
        for (int i = 0; i < 3; i++) {
            b.rtmr(i, HEX.formatHex(EventLogs.register(q, 376 + 48 * i)));
        }
        b.rtmr(3, HEX.formatHex(mr3));
        return b.build();
    }

    @Override
    public QuoteAnswer quote(byte[] reportData64) throws RaException {
        VersionedAttestation a = attestation(reportData64);
        return new QuoteAnswer(a.quote(), EventLogs.json(a.eventLog()), a.withVersion(1).encode());
    }

    @Override
    public VersionedAttestation infoAttestation() {
        return fixture;
    }

    @Override
    public void emitEvent(String event, byte[] payload) throws RaException {
        if (pki == null) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "EmitEvent",
                    "a fixture attestation cannot be extended (its quote is fixed); re-sign with the mock PKI");
        }
        RuntimeEvent e = RuntimeEvent.v1(event, payload);
        byte[] digest = e.sha384Digest();
        synchronized (lock) {
            if (extraEvents.size() >= 1024) {
                throw new RaException(RaException.Reason.LIMIT_EXCEEDED, "EmitEvent", "at most 1024 emitted events");
            }
            extraEvents.add(TdxEvent.of(3, TdxEvent.RUNTIME_EVENT_TYPE, digest, event, payload));
            extraRuntime.add(e);
            rtmr3 = sha384(rtmr3, digest);
        }
    }

    private static byte[] sha384(byte[] a, byte[] b) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-384");
            d.update(a);
            d.update(b);
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Optional<String> mockRootPem() {
        return pki == null ? Optional.empty() : Optional.of(MockIntelPki.pem(pki.rootCertificate()));
    }

    @Override
    public Optional<String> collateralJson() {
        return pki == null ? Optional.empty() : Optional.of(evidence(new byte[64], new byte[48]).collateralJson());
    }

    @Override
    public Optional<String> policyJson(String pccsUrl) {
        if (pki == null) {
            return Optional.empty();
        }
        byte[] q = fixture.quote();
        ObjectNode o = JSON.createObjectNode();
        o.put("type", "dstack_tdx");
        ObjectNode b = o.putObject("expected_bootchain");
        b.put("mrtd", HEX.formatHex(EventLogs.register(q, 184)));
        for (int i = 0; i < 3; i++) {
            b.put("rtmr" + i, HEX.formatHex(EventLogs.register(q, 376 + 48 * i)));
        }
        // dstack's own simulator files disagree: attestation.bin measured another compose than app-compose.json.
        // The policy pins what the fixture measured; the raw compose only when it is that one.
        byte[] measured = fixture.findEventPayload("compose-hash");
        if (measured != null && !Arrays.equals(measured, sha256(utf8(appCompose)))) {
            o.put("expected_compose_hash", HEX.formatHex(measured));
        } else {
            o.put("app_compose_raw", appCompose);
        }
        try {
            byte[] os = fixture.appInfo(false).osImageHash();
            if (os.length > 0) {
                o.put("os_image_hash", HEX.formatHex(os));
            }
        } catch (RaException e) {
            // no os image hash in the fixture's config: the policy does not pin one
        }
        o.put("pccs_url", pccsUrl);
        o.put("cache_collateral", true);
        return Optional.of(o.toString());
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
