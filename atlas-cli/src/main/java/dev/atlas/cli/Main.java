package dev.atlas.cli;

import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code atlas} command. Exit codes (see {@link CliErrors}): 0 success, 1 verification or
 * attestation failed (the answer is no), 2 usage or input error, 3 I/O or network failure.
 */
@Command(name = "atlas", mixinStandardHelpOptions = true, version = "atlas-java 0.1.0-SNAPSHOT",
        description = "Attested TLS for the JVM: verify Intel TDX/SGX quotes and dstack CVMs.",
        footer = {"", "Exit codes: 0 success; 1 verification or attestation failed (the answer is no); 2 usage or "
                + "input error (bad option, unreadable or malformed file); 3 I/O or network failure (connection "
                + "refused, timeout, port in use, guest agent or PCCS unreachable)."},
        subcommands = {QuoteCommand.class, EventlogCommand.class, ComposeHashCommand.class, PolicyCommand.class,
            AttestationCommand.class, SimulateCommand.class, ServerCommand.class, ProxyCommand.class, AuthServerCommand.class, GetCommand.class, BenchCommand.class, DemoCommand.class})
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

    /** Blocks until the JVM is asked to stop (Ctrl-C, SIGTERM), then closes {@code service}; returns 0. */
    static int runUntilShutdown(AutoCloseable service, String threadName) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println(threadName + ": closing failed: " + CliErrors.detail(e));
            } finally {
                stopped.countDown();
            }
        }, threadName));
        stopped.await();
        return 0;
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.registerConverter(java.net.URI.class, Main::uri);
        cl.registerConverter(java.time.Instant.class, Main::instant);
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
            CliErrors.CliException e = CliErrors.of(ex, fileArguments(p));
            c.getErr().println("error: " + e.getMessage());
            if (System.getenv(CliErrors.DEBUG_ENV) != null) {
                ex.printStackTrace(c.getErr());
            }
            c.getErr().flush();
            return e.exitCode();
        });
        return cl.execute(args);
    }

    /**
     * The file arguments of the command that ran, value to option name ({@code FILE} for positionals), so that a
     * failure that lost the file name (a charset error) can still name it.
     */
    static java.util.Map<String, String> fileArguments(CommandLine.ParseResult p) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        if (p == null) {
            return m;
        }
        CommandLine.ParseResult leaf = p;
        while (leaf.hasSubcommand()) {
            leaf = leaf.subcommand();
        }
        for (CommandLine.Model.OptionSpec o : leaf.matchedOptions()) {
            if (o.type() == java.nio.file.Path.class && o.getValue() != null) {
                m.put(o.getValue().toString(), o.longestName());
            }
        }
        for (CommandLine.Model.PositionalParamSpec pp : leaf.matchedPositionals()) {
            if (pp.type() == java.nio.file.Path.class && pp.getValue() != null) {
                m.put(pp.getValue().toString(), pp.paramLabel());
            }
        }
        return m;
    }

    /** URL options: a parse error says what a URL looks like, without the JDK's exception text. */
    static java.net.URI uri(String s) {
        try {
            java.net.URI u = new java.net.URI(s);
            if (u.getScheme() == null || u.getHost() == null) {
                throw new CommandLine.TypeConversionException("'" + s + "' is not a URL with a scheme and a host: "
                        + "give a URL such as " + example(s));
            }
            return u;
        } catch (java.net.URISyntaxException e) {
            throw new CommandLine.TypeConversionException("'" + s + "' is not a URL (" + e.getReason() + " at index "
                    + e.getIndex() + "): give a URL such as " + example(s));
        }
    }

    private static String example(String s) {
        return s.matches("[A-Za-z0-9.\\[\\]:-]+:\\d+") ? "https://" + s + "/ (or http:// for a plain-HTTP upstream)"
                : "https://127.0.0.1:8443/ or http://127.0.0.1:8000";
    }

    /** Largest {@code --at} accepted: 9999-12-31T23:59:59Z (a millisecond value today is far beyond it). */
    static final long MAX_EPOCH_SECONDS = 253_402_300_799L;

    /** {@code --at}: seconds since the epoch, or an ISO-8601 instant such as {@code 2025-07-19T10:00:34Z}. */
    static java.time.Instant instant(String s) {
        String t = s.strip();
        if (t.matches("-?\\d{1,19}")) {
            long v;
            try {
                v = Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + s + "' is too large: give seconds since the epoch");
            }
            if (v < 0) {
                throw new CommandLine.TypeConversionException("'" + s + "' is before 1970: give seconds since the "
                        + "epoch (e.g. 1752919234) or an ISO-8601 time (e.g. 2025-07-19T10:00:34Z)");
            }
            if (v > MAX_EPOCH_SECONDS) {
                String ms = v / 1000 <= MAX_EPOCH_SECONDS
                        ? " (this looks like milliseconds: " + java.time.Instant.ofEpochMilli(v) + " would be --at "
                                + v / 1000 + ")" : "";
                throw new CommandLine.TypeConversionException("'" + s + "' is after the year 9999" + ms
                        + "; --at takes seconds since the epoch or an ISO-8601 time such as 2025-07-19T10:00:34Z");
            }
            return java.time.Instant.ofEpochSecond(v);
        }
        try {
            return java.time.Instant.parse(t);
        } catch (java.time.format.DateTimeParseException e) {
            throw new CommandLine.TypeConversionException("'" + s + "' is neither seconds since the epoch nor an "
                    + "ISO-8601 time such as 2025-07-19T10:00:34Z");
        }
    }
}
