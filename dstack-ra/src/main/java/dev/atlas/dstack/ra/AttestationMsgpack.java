package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.MsgpackReader;
import dev.atlas.dstack.ra.internal.MsgpackWriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * V1: {@code rmp_serde::to_vec_named} of {@code v1::Attestation {version: 1, platform: {kind, data},
 * stack: {kind, data}}}. Plain {@code Vec<u8>} ({@code quote}, {@code report_data}) are arrays of integers;
 * serde-human-bytes fields (event digest and payload, runtime-event payload) are {@code bin}. Unknown map
 * keys are skipped as serde does; duplicate keys are rejected.
 */
final class AttestationMsgpack {
    private AttestationMsgpack() {}

    private static final String[] OTHER_PLATFORMS = {"gcp-tdx", "nitro-enclave", "aws-nitro-tpm", "sev-snp"};

    private static String key(MsgpackReader r, String field, Set<String> seen) throws RaException {
        String k = r.str(field + " key");
        if (!seen.add(k)) {
            throw new RaException(Reason.DUPLICATE_FIELD, field + "." + k, "appears twice");
        }
        return k;
    }

    private static RaException missing(String field) {
        return new RaException(Reason.MISSING_FIELD, field, "missing");
    }

    static VersionedAttestation decode(byte[] bytes) throws RaException {
        MsgpackReader r = new MsgpackReader(bytes);
        int n = r.mapHeader("attestation");
        Set<String> seen = new HashSet<>();
        Long version = null;
        Tdx tdx = null;
        Stack stack = null;
        for (int i = 0; i < n; i++) {
            String k = key(r, "attestation", seen);
            switch (k) {
                case "version":
                    version = r.uint("version", Long.MAX_VALUE);
                    break;
                case "platform":
                    tdx = platform(r);
                    break;
                case "stack":
                    stack = stack(r);
                    break;
                default:
                    r.skip(k);
            }
        }
        r.end("attestation");
        if (version == null) {
            throw missing("version");
        }
        if (version != 1) {
            throw new RaException(Reason.UNKNOWN_VERSION, "version", "expected 1, got " + version);
        }
        if (tdx == null) {
            throw missing("platform");
        }
        if (stack == null) {
            throw missing("stack");
        }
        return new VersionedAttestation(1, tdx.quote, tdx.log, stack.events, stack.reportData, stack.config,
                stack.payload);
    }

    private static final class Tdx {
        byte[] quote;
        List<TdxEvent> log;
    }

    private static final class Stack {
        byte[] reportData;
        List<RuntimeEvent> events;
        String config;
        String payload;
    }

    /** An adjacently tagged enum {@code {kind, data}}: returns the kind and leaves {@code r} at data. */
    private static String tagged(MsgpackReader r, String field, int[] dataPos) throws RaException {
        int n = r.mapHeader(field);
        Set<String> seen = new HashSet<>();
        String kind = null;
        dataPos[0] = -1;
        for (int i = 0; i < n; i++) {
            String k = key(r, field, seen);
            if (k.equals("kind")) {
                kind = r.str(field + ".kind");
            } else if (k.equals("data")) {
                dataPos[0] = r.position();
                r.skip(field + ".data");
            } else {
                r.skip(field + "." + k);
            }
        }
        if (kind == null) {
            throw missing(field + ".kind");
        }
        if (dataPos[0] < 0) {
            throw missing(field + ".data");
        }
        return kind;
    }

    private static Tdx platform(MsgpackReader r) throws RaException {
        int[] dataPos = new int[1];
        String kind = tagged(r, "platform", dataPos);
        if (!kind.equals("tdx")) {
            for (String o : OTHER_PLATFORMS) {
                if (o.equals(kind)) {
                    throw new RaException(Reason.UNSUPPORTED_PLATFORM, "platform.kind", kind + " is not implemented");
                }
            }
            throw new RaException(Reason.UNKNOWN_VARIANT, "platform.kind", "unknown platform " + kind);
        }
        int end = r.position();
        r.seek(dataPos[0]);
        Tdx t = new Tdx();
        int n = r.mapHeader("platform.data");
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            String k = key(r, "platform.data", seen);
            switch (k) {
                case "quote":
                    t.quote = r.byteArray("platform.data.quote", VersionedAttestation.MAX_BYTES);
                    break;
                case "event_log": {
                    int m = r.arrayHeader("platform.data.event_log", VersionedAttestation.MAX_EVENTS);
                    t.log = new ArrayList<>(m);
                    for (int j = 0; j < m; j++) {
                        t.log.add(tdxEvent(r, "platform.data.event_log[" + j + "]"));
                    }
                    break;
                }
                default:
                    r.skip("platform.data." + k);
            }
        }
        if (t.quote == null) {
            throw missing("platform.data.quote");
        }
        if (t.log == null) {
            throw missing("platform.data.event_log");
        }
        r.seek(end);
        return t;
    }

    private static int eventVersion(MsgpackReader r, String field) throws RaException {
        long v = r.uint(field, 0xffffffffL);
        if (v != 1 && v != 2) {
            throw new RaException(Reason.UNKNOWN_VARIANT, field, "unknown event log version " + v);
        }
        return (int) v;
    }

    private static TdxEvent tdxEvent(MsgpackReader r, String f) throws RaException {
        int n = r.mapHeader(f);
        Set<String> seen = new HashSet<>();
        Long imr = null;
        Long type = null;
        byte[] digest = new byte[0];
        String event = null;
        byte[] payload = null;
        int version = 1;
        String preimage = null;
        for (int i = 0; i < n; i++) {
            String k = key(r, f, seen);
            switch (k) {
                case "imr": imr = r.uint(f + ".imr", 0xffffffffL); break;
                case "event_type": type = r.uint(f + ".event_type", 0xffffffffL); break;
                case "digest": digest = r.bin(f + ".digest"); break;
                case "event": event = r.str(f + ".event"); break;
                case "event_payload": payload = r.bin(f + ".event_payload"); break;
                case "version": version = eventVersion(r, f + ".version"); break;
                case "preimage":
                    if (r.peekNil(f + ".preimage")) {
                        r.nil(f + ".preimage");
                    } else {
                        preimage = r.str(f + ".preimage");
                    }
                    break;
                default: r.skip(f + "." + k);
            }
        }
        if (imr == null) {
            throw missing(f + ".imr");
        }
        if (type == null) {
            throw missing(f + ".event_type");
        }
        if (event == null) {
            throw missing(f + ".event");
        }
        if (payload == null) {
            throw missing(f + ".event_payload");
        }
        return new TdxEvent(imr, type, digest, event, payload, version, preimage);
    }

    private static Stack stack(MsgpackReader r) throws RaException {
        int[] dataPos = new int[1];
        String kind = tagged(r, "stack", dataPos);
        boolean pod;
        if (kind.equals("dstack")) {
            pod = false;
        } else if (kind.equals("dstack-pod")) {
            pod = true;
        } else {
            throw new RaException(Reason.UNKNOWN_VARIANT, "stack.kind", "unknown stack " + kind);
        }
        int end = r.position();
        r.seek(dataPos[0]);
        Stack s = new Stack();
        int n = r.mapHeader("stack.data");
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            String k = key(r, "stack.data", seen);
            switch (k) {
                case "report_data":
                    s.reportData = r.byteArray("stack.data.report_data", 64);
                    if (s.reportData.length != 64) {
                        throw new RaException(Reason.BAD_LENGTH, "stack.data.report_data",
                                "must be 64 bytes, got " + s.reportData.length);
                    }
                    break;
                case "runtime_events": {
                    int m = r.arrayHeader("stack.data.runtime_events", VersionedAttestation.MAX_EVENTS);
                    s.events = new ArrayList<>(m);
                    for (int j = 0; j < m; j++) {
                        s.events.add(runtimeEvent(r, "stack.data.runtime_events[" + j + "]"));
                    }
                    break;
                }
                case "config":
                    s.config = r.str("stack.data.config");
                    break;
                case "report_data_payload":
                    if (pod) {
                        s.payload = r.str("stack.data.report_data_payload");
                        break;
                    }
                    r.skip("stack.data." + k);
                    break;
                default:
                    r.skip("stack.data." + k);
            }
        }
        if (s.reportData == null) {
            throw missing("stack.data.report_data");
        }
        if (s.events == null) {
            throw missing("stack.data.runtime_events");
        }
        if (s.config == null) {
            throw missing("stack.data.config");
        }
        if (pod && s.payload == null) {
            throw missing("stack.data.report_data_payload");
        }
        r.seek(end);
        return s;
    }

    private static RuntimeEvent runtimeEvent(MsgpackReader r, String f) throws RaException {
        int n = r.mapHeader(f);
        Set<String> seen = new HashSet<>();
        String event = null;
        byte[] payload = null;
        int version = 1;
        for (int i = 0; i < n; i++) {
            String k = key(r, f, seen);
            switch (k) {
                case "event": event = r.str(f + ".event"); break;
                case "payload": payload = r.bin(f + ".payload"); break;
                case "version": version = eventVersion(r, f + ".version"); break;
                default: r.skip(f + "." + k);
            }
        }
        if (event == null) {
            throw missing(f + ".event");
        }
        if (payload == null) {
            throw missing(f + ".payload");
        }
        return new RuntimeEvent(event, payload, version);
    }

    static byte[] encode(VersionedAttestation a) {
        MsgpackWriter w = new MsgpackWriter();
        w.map(3).str("version").uint(1);
        w.str("platform").map(2).str("kind").str("tdx").str("data").map(2);
        w.str("quote").byteArray(a.quote());
        w.str("event_log").array(a.eventLog().size());
        for (TdxEvent e : a.eventLog()) {
            int fields = 5 + (e.version() != 1 ? 1 : 0) + (e.preimage() != null ? 1 : 0);
            w.map(fields).str("imr").uint(e.imr()).str("event_type").uint(e.eventType()).str("digest").bin(e.digest())
                    .str("event").str(e.event()).str("event_payload").bin(e.payload());
            if (e.version() != 1) {
                w.str("version").uint(e.version());
            }
            if (e.preimage() != null) {
                w.str("preimage").str(e.preimage());
            }
        }
        boolean pod = a.reportDataPayload() != null;
        w.str("stack").map(2).str("kind").str(pod ? "dstack-pod" : "dstack").str("data").map(pod ? 4 : 3);
        w.str("report_data").byteArray(a.reportData());
        w.str("runtime_events").array(a.runtimeEvents().size());
        for (RuntimeEvent e : a.runtimeEvents()) {
            w.map(e.version() != 1 ? 3 : 2).str("event").str(e.event()).str("payload").bin(e.payload());
            if (e.version() != 1) {
                w.str("version").uint(e.version());
            }
        }
        w.str("config").str(a.config());
        if (pod) {
            w.str("report_data_payload").str(a.reportDataPayload());
        }
        return w.toByteArray();
    }
}
