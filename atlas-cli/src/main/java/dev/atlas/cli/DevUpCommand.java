package dev.atlas.cli;

import dev.atlas.cli.devnet.DevException;
import dev.atlas.cli.devnet.DevNet;
import dev.atlas.cli.devnet.DevOptions;
import dev.atlas.cli.devnet.DevProgress;
import dev.atlas.cli.devnet.DeployedApp;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas dev up}: writes the guide's configs, starts every component, deploys the demo apps. */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = {"Start the guide's whole deployment on this machine: atlas auth-server, the KMS in its own "
                + "simulated CVM (bootstrapped), the gateway in its own simulated CVM, the VMM (simulator backend), "
                + "and N demo apps deployed through the VMM, each answering over its own aTLS endpoint through the "
                + "gateway. On an existing --dir it resumes with the same keys.",
            "Exit codes: 0 up; 1 a component failed (the message names it and its log); 2 usage."})
final class DevUpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR", defaultValue = "devnet",
            description = "The devnet directory: configs, keys, logs, state (default: ./${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--base-domain", paramLabel = "D", defaultValue = DevOptions.DEFAULT_BASE_DOMAIN,
            description = "The gateway's base domain for app URLs (default: ${DEFAULT-VALUE}; no DNS needed).")
    String baseDomain;

    @Option(names = "--apps", paramLabel = "N", defaultValue = "1",
            description = "Demo apps to deploy on a new devnet (default: ${DEFAULT-VALUE}).")
    int apps;

    @Option(names = "--foreground", description = "Stay attached; Ctrl-C brings the devnet down.")
    boolean foreground;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        DevOptions o;
        try {
            o = DevOptions.builder(dir).baseDomain(baseDomain).apps(apps).foreground(foreground).build();
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            err.flush();
            return CliErrors.USAGE;
        }
        PrintStream progressOut = new PrintStream(new WriterStream(err), true);
        DevNet net;
        try {
            net = DevNet.up(o, DevProgress.printing(progressOut));
        } catch (DevException e) {
            err.println("error: " + e.getMessage());
            err.println("nothing of this run is left running; logs in " + o.dir().resolve("logs"));
            err.flush();
            return 1;
        }
        printSummary(out, net);
        if (!foreground) {
            out.println("Stop it with: atlas dev down --dir " + dir);
            out.flush();
            return 0;
        }
        out.println("Foreground: Ctrl-C brings the devnet down.");
        out.flush();
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                net.down();
            } catch (DevException e) {
                System.err.println("error: " + e.getMessage());
            } finally {
                done.countDown();
            }
        }, "devnet-down"));
        done.await();
        return 0;
    }

    static void printSummary(PrintWriter out, DevNet net) {
        out.println();
        out.println("Access services");
        List<String[]> rows = net.accessServices();
        int w0 = "Service".length();
        int w1 = "URL".length();
        for (String[] r : rows) {
            w0 = Math.max(w0, r[0].length());
            w1 = Math.max(w1, r[1].length());
        }
        String fmt = "  %-" + w0 + "s  %-" + w1 + "s  %s%n";
        out.printf(fmt, "Service", "URL", "Notes");
        for (String[] r : rows) {
            out.printf(fmt, r[0], r[1], r[2]);
        }
        List<DeployedApp> apps = net.apps();
        if (!apps.isEmpty()) {
            out.println();
            out.println("Apps");
            for (DeployedApp a : apps) {
                out.println("  " + a.name() + "  app id " + a.appId() + (a.allowed() ? "" : "  (NOT allowed)"));
                out.println("    attested (passthrough): " + a.url());
                out.println("    terminated (port 80):   " + a.url(net.baseDomain(), net.gatewayProxyAddress().getPort(),
                        80, ""));
                for (String i : a.instanceIds()) {
                    out.println("    instance " + i + ": " + a.url(net.baseDomain(), net.gatewayProxyAddress()
                            .getPort(), 8080, "").replace(a.appId(), i));
                }
                out.println("    attest: " + a.attestCommand());
            }
            out.println();
            out.println("Plain HTTPS through the gateway: curl --cacert " + net.gatewayCaCertificate() + " --resolve "
                    + apps.getFirst().appId() + "." + net.baseDomain() + ":" + net.gatewayProxyAddress().getPort()
                    + ":127.0.0.1 " + apps.getFirst().url(net.baseDomain(), net.gatewayProxyAddress().getPort(), 80, ""));
        }
        out.flush();
    }

    /** A PrintWriter as an OutputStream (progress lines go to stderr, the summary to stdout). */
    private static final class WriterStream extends java.io.OutputStream {
        private final PrintWriter w;
        private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

        WriterStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public synchronized void write(int b) {
            line.write(b);
            if (b == '\n') {
                flush();
            }
        }

        @Override
        public synchronized void flush() {
            w.print(line.toString(java.nio.charset.StandardCharsets.UTF_8));
            w.flush();
            line.reset();
        }
    }
}
