package dev.atlas.dstack;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.tdx.TdReport;
import dev.atlas.tdx.VerifiedReport;
import dev.atlas.tdx.internal.Json;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What a successful {@link DstackTdxVerifier} run proved about the peer. Immutable. Every measurement here
 * comes from the verified quote or from runtime events whose replay matched its RTMR3.
 *
 * <p>A report from {@link DstackTdxVerifier#verify(DstackTdxVerifier.Evidence)} records integrity only
 * ({@link #appraised()} false, no policy); one from {@link DstackTdxVerifier#verify(DstackTdxVerifier.Evidence,
 * Appraiser)} also names the {@link Appraiser} that accepted it ({@link #policySummary()},
 * {@link #policyWarnings()}, {@link #runtimeVerified()}). The report does not hold the appraiser itself.
 */
public final class AttestationReport {
    private final VerifiedReport dcap;
    private final DstackEvents events;
    private final String certificateHash;
    private final boolean certificateChecked;
    private final boolean reportDataChecked;
    private final boolean collateralFromCache;
    private final boolean appraised;
    private final boolean runtimeVerified;
    private final String policySummary;
    private final List<String> policyWarnings;

    /** An integrity-only report. */
    AttestationReport(VerifiedReport dcap, DstackEvents events, String certificateHash, boolean certificateChecked,
            boolean reportDataChecked, boolean collateralFromCache) {
        this(dcap, events, certificateHash, certificateChecked, reportDataChecked, collateralFromCache, false, false,
                null, List.of());
    }

    private AttestationReport(VerifiedReport dcap, DstackEvents events, String certificateHash,
            boolean certificateChecked, boolean reportDataChecked, boolean collateralFromCache, boolean appraised,
            boolean runtimeVerified, String policySummary, List<String> policyWarnings) {
        this.dcap = dcap;
        this.events = events;
        this.certificateHash = certificateHash;
        this.certificateChecked = certificateChecked;
        this.reportDataChecked = reportDataChecked;
        this.collateralFromCache = collateralFromCache;
        this.appraised = appraised;
        this.runtimeVerified = runtimeVerified;
        this.policySummary = policySummary;
        this.policyWarnings = List.copyOf(policyWarnings);
    }

    /** This report, marked as accepted by {@code appraiser} (its summary, warnings and runtime claim). */
    AttestationReport appraisedBy(Appraiser appraiser) {
        return new AttestationReport(dcap, events, certificateHash, certificateChecked, reportDataChecked,
                collateralFromCache, true, appraiser.verifiesRuntime(), appraiser.summary(), appraiser.warnings());
    }

    /** The DCAP result (status, advisories, FMSPC, the quote). */
    public VerifiedReport dcapReport() {
        return dcap;
    }

    public TcbStatus tcbStatus() {
        return dcap.status();
    }

    public List<String> advisoryIds() {
        return dcap.advisoryIds();
    }

    /** tcbDate of the matched platform TCB level. */
    public String tcbDate() {
        return dcap.tcbDate();
    }

    private TdReport td() {
        return dcap.tdReport();
    }

    public String mrTd() {
        return td().mrTd();
    }

    /** RTMR{@code index} (0..3) from the quote (equal to the replayed event log). */
    public String rtmr(int index) {
        return td().rtmr(index);
    }

    /** The quote's report data (the session binding value; reports and messages never print it). */
    public String reportData() {
        return td().reportData();
    }

    /** The verified runtime events. */
    public DstackEvents events() {
        return events;
    }

    public Optional<String> appId() {
        return events.appId();
    }

    public Optional<String> composeHash() {
        return events.composeHash();
    }

    public Optional<String> instanceId() {
        return events.instanceId();
    }

    public Optional<String> osImageHash() {
        return events.osImageHash();
    }

    public Optional<DstackEvents.KeyProvider> keyProvider() {
        return events.keyProvider();
    }

    /** Hex SHA-256 of the TLS certificate named by the last {@code New TLS Certificate} event, if any. */
    public Optional<String> certificateHash() {
        return Optional.ofNullable(certificateHash);
    }

    /** True when the peer certificate was compared with the certificate event (false only offline, on request). */
    public boolean certificateChecked() {
        return certificateChecked;
    }

    /** True when report data was compared with the expected value (false only offline, on request). */
    public boolean reportDataChecked() {
        return reportDataChecked;
    }

    /** True when the collateral the quote was verified with came from a cache (false: fetched or given). */
    public boolean collateralFromCache() {
        return collateralFromCache;
    }

    /**
     * True when an {@link Appraiser} (e.g. a {@link DstackTdxPolicy}) accepted this report; false for an
     * integrity-only report, which says nothing about whether the workload is the one wanted.
     */
    public boolean appraised() {
        return appraised;
    }

    /**
     * True when the appraiser checked bootchain, compose and OS image (a policy with runtime verification on);
     * false when the policy disabled runtime verification, and for an integrity-only report.
     */
    public boolean runtimeVerified() {
        return runtimeVerified;
    }

    /** The appraiser's one-line summary; null for an integrity-only report. */
    public String policySummary() {
        return policySummary;
    }

    /** The appraiser's warnings; empty for an integrity-only report. */
    public List<String> policyWarnings() {
        return policyWarnings;
    }

    public Instant verifiedAt() {
        return dcap.verifiedAt();
    }

    /**
     * One JSON object; field names in snake_case ({@code policy} is null and {@code runtime_verified} false for
     * an integrity-only report).
     */
    public String toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("tee_type", "tdx");
        o.put("tcb_status", tcbStatus().jsonName());
        ArrayNode adv = o.putArray("advisory_ids");
        advisoryIds().forEach(adv::add);
        o.put("tcb_date", tcbDate());
        o.put("fmspc", dcap.fmspc());
        o.put("mrtd", mrTd());
        for (int i = 0; i < 4; i++) {
            o.put("rtmr" + i, rtmr(i));
        }
        putOpt(o, "app_id", appId());
        putOpt(o, "compose_hash", composeHash());
        putOpt(o, "instance_id", instanceId());
        putOpt(o, "os_image_hash", osImageHash());
        Optional<DstackEvents.KeyProvider> keyProvider = keyProvider();
        if (keyProvider.isPresent()) {
            DstackEvents.KeyProvider kp = keyProvider.get();
            ObjectNode k = o.putObject("key_provider");
            k.put("name", kp.name());
            k.put("id", kp.id());
        } else {
            o.putNull("key_provider");
        }
        putOpt(o, "certificate_hash", certificateHash());
        o.put("certificate_checked", certificateChecked);
        o.put("report_data_checked", reportDataChecked);
        o.put("runtime_verified", runtimeVerified);
        ArrayNode ev = o.putArray("runtime_events");
        for (RuntimeEvent e : events.all()) {
            ObjectNode x = ev.addObject();
            x.put("event", e.name());
            x.put("payload", e.payloadHex());
            x.put("digest", e.digestHex());
        }
        if (policySummary != null) {
            o.put("policy", policySummary);
        } else {
            o.putNull("policy");
        }
        ArrayNode w = o.putArray("policy_warnings");
        policyWarnings.forEach(w::add);
        o.put("verified_at", verifiedAt().toString());
        return o.toString();
    }

    private static void putOpt(ObjectNode o, String k, Optional<String> v) {
        if (v.isPresent()) {
            o.put(k, v.get());
        } else {
            o.putNull(k);
        }
    }

    @Override
    public String toString() {
        return "AttestationReport{" + tcbStatus() + ", mrtd=" + mrTd() + ", compose=" + composeHash().orElse("-")
                + ", runtimeVerified=" + runtimeVerified + "}";
    }
}
