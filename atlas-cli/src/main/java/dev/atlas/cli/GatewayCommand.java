package dev.atlas.cli;

import dev.atlas.dstack.gateway.GatewayConfig;
import dev.atlas.dstack.gateway.GatewayServer;
import dev.atlas.dstack.ra.RaException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code atlas gateway -c gateway.toml}: the dstack gateway, reading dstack's {@code gateway.toml} unchanged. */
@Command(name = "gateway", mixinStandardHelpOptions = true,
        description = {"Run the dstack gateway (wire-compatible with dstack-gateway) from dstack's gateway.toml.",
            "Serves the proxy on [core.proxy] listen_addr/listen_port (app URLs <app_id>[-<port>][s|g].<base_domain> "
                + "routed by SNI), Gateway.* (RegisterCvm over mTLS) on the top-level address with [tls], the admin "
                + "API and dashboard on [core.admin] when enabled, and Debug.* only with "
                + "[core.debug] insecure_enable_debug_rpc.",
            "Runs until Ctrl-C, SIGTERM or Admin.Exit. See docs/dstack-gateway.md."},
        footer = {"", "Environment: DSTACK_AGENT_ADDRESS (this CVM's guest agent; default /var/run/dstack/dstack.sock,"
                + " then /var/run/dstack.sock), DSTACK_GATEWAY_ADMIN_TOKEN or ADMIN_API_TOKEN (admin token when "
                + "core.admin.auth_token is empty).",
            "Exit codes: 0 stopped; 1 the configuration was refused; 2 the config file cannot be read; 3 a port "
                + "cannot be bound or the guest agent cannot be reached."})
final class GatewayCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "dstack's gateway.toml.")
    Path config;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        GatewayConfig c = ServerConfigs.load(config, "gateway.toml", GatewayConfig::load);
        ServerConfigs.printWarnings(c.warnings(), err);
        GatewayServer server;
        try {
            server = GatewayServer.builder(c).start();
        } catch (RaException e) {
            throw ServerConfigs.failure("the gateway cannot start", e);
        } catch (IOException e) {
            throw CliErrors.cannotListen(listeners(c), "[core.proxy], the top-level address, [core.admin] or "
                    + "[core.debug] in " + config, e);
        }
        Thread hook = new Thread(server::close, "gateway-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        for (InetSocketAddress a : server.proxyAddresses()) {
            out.println("proxy: " + hostPort(a));
        }
        out.println("rpc: https://" + hostPort(server.rpcAddress()) + " (/prpc/Gateway.*, /health)");
        server.adminAddress().ifPresent(a -> out.println("admin: http://" + hostPort(a) + "/ (dashboard, "
                + "/prpc/Admin.*)"));
        server.debugAddress().ifPresent(a -> out.println("debug: http://" + hostPort(a) + " (/prpc/Debug.*, "
                + "INSECURE)"));
        out.flush();
        server.closed().join();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down
        }
        return CliErrors.OK;
    }

    private static String listeners(GatewayConfig c) {
        StringBuilder b = new StringBuilder();
        for (int p : c.proxy().listenPorts()) {
            b.append(c.proxy().listenAddr().getHostAddress()).append(':').append(p).append(", ");
        }
        b.append(hostPort(c.rpc().address()));
        if (c.admin().enabled()) {
            b.append(", ").append(hostPort(c.admin().address()));
        }
        if (c.debug().insecureEnableDebugRpc()) {
            b.append(", ").append(hostPort(c.debug().address()));
        }
        return b.toString();
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /** A refusal keeps its reason as the JSON code; the exit code follows its kind. */
}
