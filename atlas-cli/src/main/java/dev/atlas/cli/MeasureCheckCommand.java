package dev.atlas.cli;

import dev.atlas.measure.LiteCheck;
import dev.atlas.measure.MeasureException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas measure check RESPONSE.json}: the lite OS-image check of a dstack GetQuote response. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Lite OS-image check of a dstack TDX GetQuote response (quote, event_log, vm_config): the",
            "quote's MRTD and RTMR0-2 must be what the image named by vm_config.os_image_hash produces on the machine",
            "vm_config describes, computed from vm_config.tdx_measurement (sha256sum.txt + measurement.tdx.cbor) and",
            "the three logged RTMR0 ACPI digests, without the image and without QEMU.",
            "The quote's signature is not checked here (use `atlas quote verify` or `atlas get`); the ACPI table",
            "contents are not validated (lite mode).",
            "Exit 0 passed, 1 a check failed or the configuration is unsupported (SEV, swtpm, legacy variant),",
            "2 unreadable or malformed RESPONSE."})
final class MeasureCheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "RESPONSE", description = "GetQuote response JSON ({\"quote\":…,"
            + "\"event_log\":…,\"vm_config\":…}), e.g. ../shared/testdata/dstack/tdx-lite-getquote.json")
    Path response;

    @Option(names = "--json", description = "print the result (or the error) as JSON")
    boolean json;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String text;
        try {
            text = Inputs.text(response, null);
        } catch (Inputs.InputException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return e.exitCode();
        }
        try {
            LiteCheck.Result r = LiteCheck.check(text);
            if (json) {
                out.println(r.toJson());
            } else {
                out.println("lite OS-image check passed: " + response);
                for (String c : r.checks()) {
                    out.println("  ok  " + c);
                }
                out.println("not checked: the quote's signature and collateral (atlas quote verify / atlas get), the"
                        + " ACPI table contents (lite mode takes the three logged digests as given)");
            }
            out.flush();
            return CliErrors.OK;
        } catch (MeasureException e) {
            int code = e.measureReason() == MeasureException.Reason.LITE_RESPONSE_INVALID ? CliErrors.USAGE
                    : CliErrors.REJECTED;
            if (json) {
                com.fasterxml.jackson.databind.node.ObjectNode o = QuoteCommand.JSON.createObjectNode();
                o.put("valid", false);
                o.put("error", e.measureReason().name());
                o.put("message", e.getMessage());
                o.put("exit_code", code);
                out.println(o);
                out.flush();
            }
            err.println("error: lite OS-image check of " + response + " failed: " + e.getMessage());
            err.flush();
            return code;
        }
    }
}
