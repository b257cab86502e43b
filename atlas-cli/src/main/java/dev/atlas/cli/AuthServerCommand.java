package dev.atlas.cli;

import dev.atlas.dstack.auth.AuthConfig;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.auth.BootAuthorizer;
import dev.atlas.dstack.auth.ConfigCheck;
import dev.atlas.dstack.auth.MockPolicy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas auth-server}: the dstack KMS boot-authorization webhook, answering as auth-simple does. */
@Command(name = "auth-server", mixinStandardHelpOptions = true,
        subcommands = AuthServerCommand.Check.class,
        description = {"Run the dstack KMS boot-authorization webhook (auth-simple compatible): GET /, "
                + "POST /bootAuth/app, POST /bootAuth/kms, GET /metrics.",
            "The config file is re-read on every request; a missing or broken file denies everything. One JSON "
                + "audit line per decision on standard output. See docs/dstack-auth.md."},
        footer = {"", "Environment: PORT (default 3000), AUTH_CONFIG_PATH (default ./auth-config.json); flags win.",
            "Mock mode reads MOCK_ALLOWED_DEVICE_IDS, MOCK_ALLOWED_MR_AGGREGATED, MOCK_GATEWAY_APP_ID, "
                + "MOCK_CHAIN_ID, MOCK_APP_IMPLEMENTATION, KMS_CONTRACT_ADDR, ETH_RPC_URL as auth-mock does."})
final class AuthServerCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--port", paramLabel = "N", description = "Listen port (default: $PORT, else 3000).")
    Integer port;

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = "0.0.0.0",
            description = "Listen address (default: ${DEFAULT-VALUE}, as auth-simple).")
    String host;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Config file (default: $AUTH_CONFIG_PATH, else ./auth-config.json).")
    Path config;

    @Option(names = "--strict", description = "Deny on an empty device list (unless allowAnyDevice) and refuse "
            + "ids that are not hex of the right length (400).")
    boolean strict;

    @Option(names = "--mock-policy", paramLabel = "P",
            description = "TEST ONLY: answer with an auth-mock policy (allow-all, deny-all, deny-kms, deny-app, "
                    + "allowlist-device, allowlist-mr) instead of the config file.")
    String mockPolicy;

    @Option(names = "--production", description = "Production mode: refuses --mock-policy (also NODE_ENV=production).")
    boolean production;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        int p;
        try {
            p = port != null ? port : Integer.parseInt(System.getenv().getOrDefault("PORT", "3000"));
        } catch (NumberFormatException e) {
            err.println("atlas auth-server: PORT is not a number");
            return Main.USAGE;
        }
        Path file = config != null ? config : Path.of(System.getenv().getOrDefault("AUTH_CONFIG_PATH",
                "./auth-config.json"));
        boolean prod = production || "production".equals(System.getenv("NODE_ENV"));
        MockPolicy mock = null;
        if (mockPolicy != null) {
            try {
                mock = MockPolicy.of(mockPolicy);
            } catch (IllegalArgumentException e) {
                err.println("atlas auth-server: " + e.getMessage());
                return Main.USAGE;
            }
        }
        AuthServer server;
        try {
            server = AuthServer.builder(file).host(host).port(p)
                    .mode(strict ? BootAuthorizer.Mode.STRICT : BootAuthorizer.Mode.COMPATIBLE)
                    .mockPolicy(mock).production(prod).environment(System.getenv()).build();
        } catch (IllegalStateException e) {
            err.println("atlas auth-server: " + e.getMessage() + " (--production or NODE_ENV=production)");
            return Main.USAGE;
        }
        server.start();
        return Main.runUntilShutdown(server, "auth-server-shutdown");
    }

    /** {@code atlas auth-server check FILE}. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Validate a config file and list what it allows. Exit 0: valid; 1: invalid.")
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "auth-simple config JSON")
        Path file;

        @Option(names = "--strict", description = "Also require every id to be hex of the right length.")
        boolean strict;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            AuthConfig.Loaded l = AuthConfig.load(file);
            if (!l.ok()) {
                err.println("invalid: " + l.error());
                err.println("auth-simple would fall back to its defaults and deny every request.");
                return Main.VERIFICATION_FAILED;
            }
            ConfigCheck.Result r = ConfigCheck.check(l.config(), strict);
            r.lines().forEach(out::println);
            for (String pr : r.problems()) {
                err.println("problem: " + pr);
            }
            out.println(r.ok() ? "valid" : "invalid (" + r.problems().size() + " problems)");
            return r.ok() ? 0 : Main.VERIFICATION_FAILED;
        }
    }
}
