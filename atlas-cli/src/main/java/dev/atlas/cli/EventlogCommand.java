package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLogEntry;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas eventlog ...}. */
@Command(name = "eventlog", mixinStandardHelpOptions = true, description = "Inspect dstack event logs.",
        subcommands = {EventlogCommand.Verify.class})
final class EventlogCommand extends ParentCommand {
    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Replay the event log of a GetQuote or /tdx_quote response against the quote's RTMRs.",
                "Structure only: no DCAP, no policy. Exit 0 iff all four RTMRs match and the log is consistent"
                        + " (runtime digests, placement, duplicates), 1 otherwise, 2 on unreadable input."})
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "RESPONSE.json", description = "GetQuote or /tdx_quote response JSON")
        Path response;

        @Option(names = "--json", description = "print one JSON object")
        boolean json;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            QuoteResponse r;
            TdReport td;
            try {
                r = Inputs.quoteResponse(response);
                td = Quote.parse(r.quote()).tdReport();
                if (td == null) {
                    err.println("error: " + response + ": the quote is not a TDX quote (an SGX quote has no RTMRs)");
                    return Main.USAGE;
                }
            } catch (Inputs.InputException e) {
                err.println("error: " + e.getMessage());
                return e.exitCode();
            } catch (AttestationException e) {
                err.println("error: " + response + ": its quote is not valid: " + CliErrors.scrub(e.getMessage()));
                return Main.USAGE;
            }
            HexFormat hex = HexFormat.of();
            List<byte[]> replayed = r.eventLog().replay();
            boolean allMatch = true;
            String[] quoted = new String[4];
            boolean[] match = new boolean[4];
            for (int i = 0; i < 4; i++) {
                quoted[i] = td.rtmr(i);
                match[i] = quoted[i].equals(hex.formatHex(replayed.get(i)));
                allMatch &= match[i];
            }
            String problem = null;
            try {
                r.eventLog().verify();
            } catch (AttestationException e) {
                problem = e.reason() + ": " + e.detail();
            }
            List<EventLogEntry> entries = r.eventLog().entries();
            if (json) {
                ObjectNode o = QuoteCommand.JSON.createObjectNode();
                o.put("ok", allMatch && problem == null);
                ArrayNode rtmrs = o.putArray("rtmrs");
                for (int i = 0; i < 4; i++) {
                    ObjectNode x = rtmrs.addObject();
                    x.put("index", i);
                    x.put("quoted", quoted[i]);
                    x.put("replayed", hex.formatHex(replayed.get(i)));
                    x.put("match", match[i]);
                }
                o.put("consistency_error", problem);
                ArrayNode events = o.putArray("runtime_events");
                for (int i = 0; i < entries.size(); i++) {
                    EventLogEntry e = entries.get(i);
                    if (!e.isRuntimeEvent()) {
                        continue;
                    }
                    ObjectNode x = events.addObject();
                    x.put("index", i);
                    x.put("imr", e.imr());
                    x.put("event", e.event());
                    x.put("payload", e.payloadHex());
                    x.put("digest", hex.formatHex(e.effectiveDigest()));
                    x.put("digest_sent", e.digestHex().isEmpty() ? "empty" : e.digestAgrees() ? "match" : "MISMATCH");
                }
                o.put("entries", entries.size());
                out.println(o.toString());
            } else {
                out.println("event log: " + entries.size() + " entries");
                for (int i = 0; i < 4; i++) {
                    out.println("RTMR" + i + " " + (match[i] ? "match   " : "MISMATCH") + " quote    " + quoted[i]);
                    out.println("              replayed " + hex.formatHex(replayed.get(i)));
                }
                out.println("runtime events (RTMR3):");
                for (int i = 0; i < entries.size(); i++) {
                    EventLogEntry e = entries.get(i);
                    if (!e.isRuntimeEvent()) {
                        continue;
                    }
                    String status = e.digestHex().isEmpty() ? "digest recomputed (sent empty)"
                            : e.digestAgrees() ? "digest ok" : "DIGEST MISMATCH (sent " + e.digestHex() + ")";
                    out.println("  [" + i + "] " + e.event() + " = " + ReportText.payload(e.payload()) + "  [" + status
                            + "]");
                }
                if (problem != null) {
                    out.println("inconsistent: " + problem);
                }
                out.println(allMatch && problem == null ? "OK: all four RTMRs match the event log"
                        : "FAILED: the event log does not explain the quote's RTMRs");
            }
            out.flush();
            return allMatch && problem == null ? 0 : Main.VERIFICATION_FAILED;
        }
    }

}
