package dev.atlas.cli;

import dev.atlas.dstack.auth.AuthConfig;
import dev.atlas.dstack.auth.AuthServer;
import dev.atlas.dstack.auth.BootAuthorizer;
import dev.atlas.dstack.auth.ConfigCheck;
import dev.atlas.dstack.auth.MockPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
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

    @Option(names = "--config-settle-ms", paramLabel = "MS",
            description = "Decide only on a config file unchanged for this long (10..5000; default: "
                    + "$AUTH_CONFIG_SETTLE_MS, else 100). Writers that rewrite the file in place must finish within it;"
                    + " an atomic rename is always safe.")
    Long configSettleMs;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        int p;
        String portFrom = port != null ? "--port" : "PORT";
        try {
            p = port != null ? port : Integer.parseInt(System.getenv().getOrDefault("PORT", "3000").strip());
        } catch (NumberFormatException e) {
            throw CliErrors.usage("the environment variable PORT=" + System.getenv("PORT") + " is not a number: "
                    + "set a port 0..65535 or pass --port");
        }
        if (p < 0 || p > 65535) {
            throw CliErrors.usage(portFrom + " " + p + " is out of range 0..65535");
        }
        String listenText = (host.contains(":") ? "[" + host + "]" : host) + ":" + p;
        ServerCommand.address(host, "--host " + host);
        Path file = config != null ? config : Path.of(System.getenv().getOrDefault("AUTH_CONFIG_PATH",
                "./auth-config.json"));
        boolean prod = production || "production".equals(System.getenv("NODE_ENV"));
        MockPolicy mock = null;
        if (mockPolicy != null) {
            try {
                mock = MockPolicy.of(mockPolicy);
            } catch (IllegalArgumentException e) {
                throw CliErrors.usage("--mock-policy " + mockPolicy + ": " + CliErrors.detail(e));
            }
        }
        if (mock == null) {
            warnAboutConfig(err, file, config != null ? "--config" : System.getenv("AUTH_CONFIG_PATH") != null
                    ? "AUTH_CONFIG_PATH" : "default config path");
        }
        AuthServer server;
        try {
            AuthServer.Builder b = AuthServer.builder(file).host(host).port(p)
                    .mode(strict ? BootAuthorizer.Mode.STRICT : BootAuthorizer.Mode.COMPATIBLE)
                    .mockPolicy(mock).production(prod).environment(System.getenv());
            if (configSettleMs != null) {
                b.configSettle(java.time.Duration.ofMillis(configSettleMs));
            }
            server = b.build();
        } catch (IllegalStateException e) {
            throw CliErrors.usage(CliErrors.detail(e) + " (--production or NODE_ENV=production): drop --mock-policy");
        } catch (IllegalArgumentException e) {
            throw CliErrors.usage("auth-server: " + (configSettleMs != null && CliErrors.detail(e).contains("settle")
                    ? "--config-settle-ms " + configSettleMs + ": " : "") + CliErrors.detail(e));
        }
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            throw CliErrors.cannotListen(listenText, port != null ? "--host/--port" : "--host/--port (or PORT)", e);
        }
        return Services.runUntilShutdown(server, "auth-server-shutdown");
    }

    /**
     * auth-simple starts with a missing or broken config and denies every request until it is fixed (the file is
     * re-read per request); say so on stderr in plain words before starting.
     */
    private static void warnAboutConfig(PrintWriter err, Path file, String from) {
        if (!Files.isRegularFile(file)) {
            return; // the server's own config_error log line says that the file is missing
        }
        String problem = null;
        try {
            Inputs.text(file, from);
        } catch (Inputs.InputException e) {
            problem = e.getMessage();
        }
        if (problem != null) {
            err.println("warning: " + problem + "; every boot request is denied until the file is fixed (it is "
                    + "re-read on every request)");
            err.flush();
        }
    }

    /** {@code atlas auth-server check FILE}. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Validate a config file and list what it allows. Exit 0: valid; 1: invalid; 2: unreadable "
                    + "or not UTF-8 text.")
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
            try {
                Inputs.text(file, null); // missing, unreadable or binary: an input error (exit 2), said plainly
            } catch (Inputs.InputException e) {
                err.println("error: " + e.getMessage() + " (auth-simple would fall back to its defaults and deny "
                        + "every request)");
                return Main.USAGE;
            }
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
