package dev.atlas.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code atlas} command: the subcommands, the converters ({@link Converters}) and the error
 * handlers; shared helpers live in {@link Converters}, {@link Services} and {@link Inputs}. Exit codes (see {@link CliErrors}): 0 success, 1 verification or
 * attestation failed (the answer is no), 2 usage or input error, 3 I/O or network failure.
 */
@Command(name = "atlas", mixinStandardHelpOptions = true, version = "atlas-java 0.1.0-SNAPSHOT",
        description = "Attested TLS for the JVM: verify Intel TDX/SGX quotes and dstack CVMs.",
        footer = {"", "Exit codes: 0 success; 1 verification or attestation failed (the answer is no); 2 usage or "
                + "input error (bad option, unreadable or malformed file); 3 I/O or network failure (connection "
                + "refused, timeout, port in use, guest agent or PCCS unreachable)."},
        subcommands = {QuoteCommand.class, EventlogCommand.class, ComposeHashCommand.class, PolicyCommand.class,
            AttestationCommand.class, SimulateCommand.class, ServerCommand.class, ProxyCommand.class, AuthServerCommand.class, KmsCommand.class, GatewayCommand.class,
            VmmCommand.class, GetCommand.class, GuestCommand.class, RatlsCommand.class, EnvCommand.class, BenchCommand.class, DemoCommand.class,
            CertbotCommand.class, CtMonitorCommand.class, DevCommand.class, MeasureCommand.class})
public final class Main implements Runnable {
    /** Exit code: verification failed. */
    static final int VERIFICATION_FAILED = CliErrors.REJECTED;
    /** Exit code: usage error or unreadable input. */
    static final int USAGE = CliErrors.USAGE;
    /** Exit code: I/O or network failure. */
    static final int IO = CliErrors.IO;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.registerConverter(java.net.URI.class, Converters::uri);
        cl.registerConverter(java.time.Instant.class, Converters::instant);
        cl.setExitCodeExceptionMapper(e -> CliErrors.of(e).exitCode());
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("error: " + CliErrors.scrub(ex.getMessage()));
            if (ex instanceof CommandLine.UnmatchedArgumentException u) {
                CommandLine.UnmatchedArgumentException.printSuggestions(u, c.getErr());
            }
            c.getErr().println("Run '" + c.getCommandSpec().qualifiedName() + " --help' for the options.");
            c.getErr().flush();
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, p) -> {
            CliErrors.CliException e = CliErrors.of(ex, Converters.fileArguments(p));
            c.getErr().println("error: " + e.getMessage());
            if (System.getenv(CliErrors.DEBUG_ENV) != null) {
                ex.printStackTrace(c.getErr());
            }
            c.getErr().flush();
            return e.exitCode();
        });
        return cl.execute(args);
    }
}
