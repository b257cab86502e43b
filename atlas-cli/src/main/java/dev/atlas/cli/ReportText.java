package dev.atlas.cli;

import dev.atlas.tdx.VerifiedReport;
import java.io.PrintWriter;

/** The human-readable form of a verified report, shared by {@code quote verify} and {@code demo}. */
final class ReportText {
    private ReportText() {}

    static void print(PrintWriter out, VerifiedReport r, String indent) {
        out.println(indent + "status: " + r.status().jsonName() + "  advisories: " + r.advisoryIds());
        out.println(indent + "platform: " + r.platformStatus() + "  QE: " + r.qeStatus() + "  tcbDate: " + r.tcbDate());
        out.println(indent + "fmspc: " + r.fmspc() + "  verified at: " + r.verifiedAt());
        if (r.tdReport() != null) {
            out.println(indent + "mr_td: " + r.tdReport().mrTd());
            for (int i = 0; i < 4; i++) {
                out.println(indent + "rtmr" + i + ": " + r.tdReport().rtmr(i));
            }
            out.println(indent + "report_data: " + r.tdReport().reportData());
        } else {
            out.println(indent + "mr_enclave: " + r.quote().enclaveReport().mrEnclave());
            out.println(indent + "mr_signer: " + r.quote().enclaveReport().mrSigner());
            out.println(indent + "report_data: " + r.quote().enclaveReport().reportData());
        }
    }
}
