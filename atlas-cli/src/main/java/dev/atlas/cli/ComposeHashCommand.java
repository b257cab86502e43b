package dev.atlas.cli;

import dev.atlas.dstack.ComposeHash;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas compose-hash FILE [--json-value]}. */
@Command(name = "compose-hash", mixinStandardHelpOptions = true,
        description = {"Print the compose hash of an app-compose.json.",
            "Default: SHA-256 of the raw file bytes (what dstack measures into the compose-hash event).",
            "--json-value: Atlas's form, SHA-256 of the JSON value re-serialized compactly in insertion order"
                    + " (serde_json rules)."})
final class ComposeHashCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "app-compose.json")
    Path file;

    @Option(names = "--json-value", description = "hash the parsed JSON value as Atlas does")
    boolean jsonValue;

    @Override
    public Integer call() {
        try {
            byte[] bytes = Inputs.read(file);
            String hash;
            if (jsonValue) {
                try {
                    hash = ComposeHash.ofJsonText(Inputs.utf8(bytes, file, null));
                } catch (IllegalArgumentException e) {
                    spec.commandLine().getErr().println("error: " + file + " is not JSON that Atlas can hash: "
                            + CliErrors.detail(e));
                    return Main.USAGE;
                }
            } else {
                hash = ComposeHash.ofRawBytes(bytes);
            }
            spec.commandLine().getOut().println(hash);
            spec.commandLine().getOut().flush();
            return 0;
        } catch (Inputs.InputException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return e.exitCode();
        }
    }
}
