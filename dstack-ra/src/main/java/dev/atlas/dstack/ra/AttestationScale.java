package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.ScaleReader;
import dev.atlas.dstack.ra.internal.ScaleWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * V0: {@code LegacyVersionedAttestation::V0 { Attestation { quote: AttestationQuote, runtime_events,
 * report_data: [u8; 64], config: String, report: () } }} in SCALE.
 */
final class AttestationScale {
    private AttestationScale() {}

    private static final String[] PLATFORMS = {"DstackTdx", "DstackGcpTdx", "DstackNitroEnclave", "DstackAmdSevSnp",
        "DstackAwsNitroTpm"};

    static VersionedAttestation decode(byte[] bytes) throws RaException {
        ScaleReader r = new ScaleReader(bytes);
        int v = r.u8("version");
        if (v != 0) {
            throw new RaException(Reason.UNKNOWN_VERSION, "version", "SCALE variant " + v);
        }
        int platform = r.u8("quote");
        if (platform != 0) {
            if (platform < PLATFORMS.length) {
                throw new RaException(Reason.UNSUPPORTED_PLATFORM, "quote", PLATFORMS[platform] + " is not implemented");
            }
            throw new RaException(Reason.UNKNOWN_VARIANT, "quote", "AttestationQuote index " + platform);
        }
        byte[] quote = r.bytes("quote.quote");
        int n = r.count("quote.event_log", VersionedAttestation.MAX_EVENTS, 11);
        List<TdxEvent> log = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String f = "quote.event_log[" + i + "]";
            long imr = r.u32(f + ".imr");
            long type = r.u32(f + ".event_type");
            byte[] digest = r.bytes(f + ".digest");
            String event = r.string(f + ".event");
            byte[] payload = r.bytes(f + ".event_payload");
            log.add(TdxEvent.of(imr, type, digest, event, payload));
        }
        int m = r.count("runtime_events", VersionedAttestation.MAX_EVENTS, 2);
        List<RuntimeEvent> rt = new ArrayList<>(m);
        for (int i = 0; i < m; i++) {
            String f = "runtime_events[" + i + "]";
            String event = r.string(f + ".event");
            byte[] payload = r.bytes(f + ".payload");
            rt.add(RuntimeEvent.v1(event, payload));
        }
        byte[] reportData = r.fixed(64, "report_data");
        String config = r.string("config");
        r.end("attestation");
        return new VersionedAttestation(0, quote, log, rt, reportData, config, null);
    }

    static byte[] encode(VersionedAttestation a) {
        ScaleWriter w = new ScaleWriter().u8(0).u8(0).bytes(a.quote()).compact(a.eventLog().size());
        for (TdxEvent e : a.eventLog()) {
            w.u32(e.imr()).u32(e.eventType()).bytes(e.digest()).string(e.event()).bytes(e.payload());
        }
        w.compact(a.runtimeEvents().size());
        for (RuntimeEvent e : a.runtimeEvents()) {
            w.string(e.event()).bytes(e.payload());
        }
        return w.fixed(a.reportData()).string(a.config()).toByteArray();
    }
}
