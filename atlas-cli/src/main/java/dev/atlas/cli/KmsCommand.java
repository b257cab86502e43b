package dev.atlas.cli;

import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.kms.KmsServer;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas kms -c kms.toml}: the dstack KMS, reading dstack's {@code kms.toml} unchanged. */
@Command(name = "kms", mixinStandardHelpOptions = true,
        description = {"Run the dstack KMS (wire- and key-compatible with dstack-kms) from dstack's kms.toml.",
            "Without keys in core.cert_dir it first serves the onboard page and Onboard.* on [core.onboard] (plain "
                + "HTTP) until /finish, or bootstraps at once with core.onboard.auto_bootstrap_domain; then it "
                + "serves KMS.* on [rpc] (TLS), /health and /metrics, and the admin API on [core.admin] when enabled.",
            "Runs until Ctrl-C or SIGTERM. See docs/dstack-kms.md."},
        footer = {"", "Environment: DSTACK_AGENT_ADDRESS (this CVM's guest agent; default /var/run/dstack/dstack.sock,"
                + " then /var/run/dstack.sock), DSTACK_KMS_ADMIN_TOKEN or ADMIN_API_TOKEN (admin token when "
                + "core.admin.auth_token is empty).",
            "Exit codes: 0 stopped; 1 the configuration or the KMS's own attestation was refused; 2 the config file "
                + "cannot be read; 3 a port cannot be bound or the guest agent cannot be reached."})
final class KmsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "dstack's kms.toml.")
    Path config;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        KmsConfig c = ServerConfigs.load(config, "kms.toml", KmsConfig::load);
        ServerConfigs.printWarnings(c.warnings(), err);
        KmsServer server;
        try {
            // the audit trail: one JSON line per key release or refusal on stdout, as atlas auth-server's decisions
            server = KmsServer.builder(c).auditSink(line -> {
                synchronized (out) {
                    out.println(line);
                    out.flush();
                }
            }).start();
        } catch (RaException e) {
            throw ServerConfigs.failure("the KMS cannot start", e);
        } catch (IOException e) {
            throw CliErrors.cannotListen(listeners(c), "[rpc], [core.onboard] or [core.admin] in " + config, e);
        }
        AtomicReference<Throwable> failed = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stopping.set(true);
            server.close();
            done.countDown();
        }, "kms-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        if (server.onboardAddress().isPresent()) {
            out.println("onboard: http://" + hostPort(server.onboardAddress().get()) + "/ (no keys yet: bootstrap "
                    + "or onboard there, then GET /finish)");
            out.flush();
            Thread.ofVirtual().name("kms-main-wait").start(() -> {
                try {
                    server.awaitMainServer(Duration.ofDays(3650));
                    printListeners(out, server);
                } catch (InterruptedException | TimeoutException e) {
                    // shutting down
                } catch (RaException | IOException | RuntimeException e) {
                    if (!stopping.get()) {
                        failed.set(e);
                        done.countDown();
                    }
                }
            });
        } else {
            printListeners(out, server);
        }
        done.await();
        Throwable f = failed.get();
        if (f != null) {
            server.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down
            }
            if (f instanceof RaException r) {
                throw ServerConfigs.failure("the KMS cannot start after onboarding", r);
            }
            throw CliErrors.io("the KMS cannot start after onboarding: " + CliErrors.detail(f), f);
        }
        return CliErrors.OK;
    }

    private static void printListeners(PrintWriter out, KmsServer server) {
        out.println("rpc: https://" + hostPort(server.rpcAddress()) + " (/prpc/KMS.*, /health, /metrics)");
        server.adminAddress().ifPresent(a -> out.println("admin: http://" + hostPort(a) + " (/prpc/Admin.*)"));
        out.flush();
    }

    private static String listeners(KmsConfig c) {
        return hostPort(c.rpcAddress()) + (c.onboardEnabled() ? ", " + hostPort(c.onboardAddress()) : "")
                + (c.adminEnabled() ? ", " + hostPort(c.adminAddress()) : "");
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /** A refusal keeps its reason as the JSON code; the exit code follows its kind. */
}
