package dev.atlas.cli;

import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.RuntimeEvent;
import dev.atlas.tdx.VerifiedReport;
import java.io.PrintWriter;

/** The human-readable form of a verified report, shared by {@code quote verify} and {@code demo}. */
final class ReportText {
    private ReportText() {}

    static void print(PrintWriter out, VerifiedReport r, String indent) {
        print(out, r, indent, true);
    }

    /** {@code withReportData == false} for session-bound quotes: binding values are never printed. */
    static void print(PrintWriter out, VerifiedReport r, String indent, boolean withReportData) {
        out.println(indent + "status: " + r.status().jsonName() + "  advisories: " + r.advisoryIds());
        out.println(indent + "platform: " + r.platformStatus() + "  QE: " + r.qeStatus() + "  tcbDate: " + r.tcbDate());
        out.println(indent + "fmspc: " + r.fmspc() + "  verified at: " + r.verifiedAt());
        if (r.tdReport() != null) {
            out.println(indent + "mr_td: " + r.tdReport().mrTd());
            for (int i = 0; i < 4; i++) {
                out.println(indent + "rtmr" + i + ": " + r.tdReport().rtmr(i));
            }
            if (withReportData) {
                out.println(indent + "report_data: " + r.tdReport().reportData());
            }
        } else {
            out.println(indent + "mr_enclave: " + r.quote().enclaveReport().mrEnclave());
            out.println(indent + "mr_signer: " + r.quote().enclaveReport().mrSigner());
            out.println(indent + "report_data: " + r.quote().enclaveReport().reportData());
        }
    }

    static void print(PrintWriter out, AttestationReport r) {
        print(out, r.dcapReport(), "  ", false);
        out.println("  app_id: " + r.appId().orElse("-"));
        out.println("  compose_hash: " + r.composeHash().orElse("-"));
        out.println("  instance_id: " + r.instanceId().orElse("-"));
        out.println("  os_image_hash: " + r.osImageHash().orElse("-"));
        out.println("  key_provider: " + r.keyProvider().map(Object::toString).orElse("-"));
        out.println("  certificate_hash: " + r.certificateHash().orElse("-")
                + (r.certificateChecked() ? "  (matches the peer certificate)" : "  (NOT compared with a certificate)"));
        out.println("  report_data: " + (r.reportDataChecked() ? "bound (matches the expected value)" : "NOT checked"));
        out.println("  runtime verification: " + (r.runtimeVerified() ? "on" : "DISABLED by the policy"));
        out.println("  policy: " + r.policySummary());
        for (String w : r.policyWarnings()) {
            out.println("  warning: " + w);
        }
        out.println("  runtime events:");
        for (RuntimeEvent e : r.events().all()) {
            out.println("    " + eventLine(e));
        }
    }

    /** {@code name = payload} (see {@link #payload}). */
    static String eventLine(RuntimeEvent e) {
        return e.name() + " = " + payload(e.payload());
    }

    /** An event payload for people: {@code (empty)}, the text when it is printable UTF-8, else hex. */
    static String payload(byte[] payload) {
        if (payload.length == 0) {
            return "(empty)";
        }
        String text = new String(payload, java.nio.charset.StandardCharsets.UTF_8);
        boolean utf8 = java.util.Arrays.equals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8), payload);
        return utf8 && text.codePoints().allMatch(c -> c >= 0x20 && c != 0x7f)
                ? text : java.util.HexFormat.of().formatHex(payload);
    }

    /** A verification failure as one JSON object: {@code error} (the reason), {@code message}, and the optional
     *  {@code subject}, {@code expected}, {@code actual}. */
    static String errorJson(dev.atlas.tdx.AttestationException e) {
        com.fasterxml.jackson.databind.node.ObjectNode o = QuoteCommand.JSON.createObjectNode();
        o.put("error", e.reason().name());
        o.put("message", e.detail());
        e.subject().ifPresent(s -> o.put("subject", s));
        e.expected().ifPresent(s -> o.put("expected", s));
        e.actual().ifPresent(s -> o.put("actual", s));
        return o.toString();
    }
}
