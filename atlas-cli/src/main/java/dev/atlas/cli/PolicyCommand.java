package dev.atlas.cli;

import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.tdx.AttestationException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas policy ...}. */
@Command(name = "policy", mixinStandardHelpOptions = true, description = "Work with Atlas policy files.",
        subcommands = {PolicyCommand.Check.class})
final class PolicyCommand extends ParentCommand {
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = {"Validate a policy, print it normalized, and list warnings.",
                "Exit 0 valid, 1 invalid, 2 unreadable."})
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "POLICY.json")
        Path policy;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            String text;
            try {
                text = Inputs.text(policy, null);
            } catch (Inputs.InputException e) {
                err.println("error: " + e.getMessage());
                return Main.USAGE;
            }
            try {
                DstackTdxPolicy p = PolicyJson.parse(text);
                out.println(p.toPrettyJson());
                out.println("compose hash expected: " + (p.composeHash() == null ? "-" : p.composeHash()));
                out.println("collateral from: " + p.collateralUrl() + (p.cacheCollateral() ? " (cached 8 h)" : ""));
                for (String w : p.warnings()) {
                    out.println("warning: " + w);
                }
                out.println("valid");
                out.flush();
                return 0;
            } catch (AttestationException e) {
                out.flush();
                err.println("invalid policy: " + e.detail());
                return Main.VERIFICATION_FAILED;
            }
        }
    }
}
