package dev.atlas.cli;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.VmmServer;
import java.io.PrintWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas vmm -c vmm.toml [--backend simulator]}: the dstack VMM, reading dstack's {@code vmm.toml} unchanged. */
@Command(name = "vmm", mixinStandardHelpOptions = true,
        description = {"Run the dstack VMM (wire-compatible with dstack-vmm and its vmm-cli.py) from dstack's vmm.toml.",
            "Serves the Vmm pRPC API (/prpc, legacy Teepod. prefix), /logs and the dashboard on `address` "
                + "(unix:PATH or tcp:HOST:PORT), behind [auth] (mandatory off-host); keeps one directory per VM "
                + "under run_path and re-adopts running VMs at start.",
            "Backends: qemu (TDX hosts, the default) or simulator (simulated dstack guests as child processes); "
                + "[cvm] backend in vmm.toml or --backend. Runs until Ctrl-C or SIGTERM; VMs keep running. "
                + "See docs/dstack-vmm.md."},
        footer = {"", "Exit codes: 0 stopped; 1 the configuration was refused (for example an off-host address "
                + "without [auth]); 2 the config file cannot be read; 3 the address cannot be bound."})
final class VmmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "dstack's vmm.toml.")
    Path config;

    @Option(names = "--backend", paramLabel = "NAME", description = "qemu or simulator (overrides [cvm] backend).")
    String backend;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        VmmConfig c = ServerConfigs.load(config, "vmm.toml", VmmConfig::load);
        if (backend != null) {
            if (!backend.equals(VmmConfig.Cvm.BACKEND_QEMU) && !backend.equals(VmmConfig.Cvm.BACKEND_SIMULATOR)) {
                throw CliErrors.usage("--backend must be qemu or simulator, got " + backend);
            }
            c = c.withBackend(backend);
        }
        ServerConfigs.printWarnings(c.warnings(), err);
        VmmServer server;
        try {
            server = VmmServer.builder(c).start();
        } catch (RaException e) {
            if (e.raReason() == RaException.Reason.CONFIG_INVALID && "address".equals(e.field())
                    && e.getMessage().contains("cannot bind")) {
                throw CliErrors.cannotListen(c.address(), "address in " + config, e);
            }
            throw ServerConfigs.failure("the VMM cannot start", e);
        }
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            done.countDown();
        }, "vmm-shutdown"));
        String where = server.address() instanceof UnixDomainSocketAddress u ? "unix:" + u.getPath()
                : server.httpBase().orElse(server.address().toString());
        out.println("vmm: " + where + " (backend " + server.backend().name() + ", run_path " + c.runPath()
                + ", images " + c.image().path() + ", auth " + (c.auth().enabled() ? "on" : "off") + ")");
        out.flush();
        done.await();
        return CliErrors.OK;
    }
}
