package dev.atlas.cli;

import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code atlas} command. Exit codes: 0 success, 1 verification failed, 2 usage or I/O error. */
@Command(name = "atlas", mixinStandardHelpOptions = true, version = "atlas-java 0.1.0-SNAPSHOT",
        description = "Attested TLS for the JVM: verify Intel TDX/SGX quotes and dstack CVMs.",
        subcommands = {QuoteCommand.class, EventlogCommand.class, ComposeHashCommand.class, PolicyCommand.class,
            AttestationCommand.class, SimulateCommand.class, ServerCommand.class, ProxyCommand.class, AuthServerCommand.class, GetCommand.class, BenchCommand.class, DemoCommand.class})
public final class Main implements Runnable {
    /** Exit code: verification failed. */
    static final int VERIFICATION_FAILED = 1;
    /** Exit code: usage error or unreadable input. */
    static final int USAGE = 2;

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
                System.err.println(threadName + ": " + e);
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
        cl.setExitCodeExceptionMapper(e -> USAGE);
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("error: " + ex.getMessage());
            ex.getCommandLine().usage(ex.getCommandLine().getErr());
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, p) -> {
            c.getErr().println("error: " + ex.getMessage());
            return USAGE;
        });
        return cl.execute(args);
    }
}
