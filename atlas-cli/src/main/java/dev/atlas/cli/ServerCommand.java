package dev.atlas.cli;

import dev.atlas.server.AtlsServer;
import dev.atlas.server.GetQuoteResponse;
import dev.atlas.server.GuestAgentQuoteProvider;
import dev.atlas.server.QuoteProvider;
import dev.atlas.server.ServerCertificate;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code atlas server}: the aTLS endpoint in front of an app, inside a real CVM with the real guest agent. */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run the aTLS endpoint inside a dstack CVM: TLS 1.3, POST /tdx_quote answered with a quote "
                + "from the dstack guest agent bound to each connection, every other path proxied to --upstream.",
            "The certificate's SHA-256 is measured into RTMR3 as 'New TLS Certificate' before the server listens "
                + "(EmitEvent on dstack 0.5.x, else the kernel's RTMR3 extend file; see docs/server.md)."})
final class ServerCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--upstream", required = true, paramLabel = "URL", description = "The application, e.g. http://127.0.0.1:8000.")
    URI upstream;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "0.0.0.0:8443",
            description = "Where to listen (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--cert", paramLabel = "FILE", description = "PEM certificate chain, leaf first (with --key).")
    Path cert;

    @Option(names = "--key", paramLabel = "FILE", description = "PEM private key (with --cert).")
    Path key;

    @Option(names = "--name", paramLabel = "HOST", split = ",",
            description = "Names for the self-signed certificate made when --cert is absent (default: localhost).")
    List<String> names;

    @Option(names = "--agent", paramLabel = "ENDPOINT",
            description = "Guest agent: socket path, unix:PATH or http(s) URL (default: $DSTACK_SIMULATOR_ENDPOINT, "
                    + "else /var/run/dstack.sock).")
    String agent;

    @Option(names = "--measurement", defaultValue = "AUTO",
            description = "How the certificate is measured: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    GuestAgentQuoteProvider.Measurement measurement;

    @Option(names = "--native-rtmr3", paramLabel = "PATH", description = "RTMR3 extend file for native measurement "
            + "(default: /sys/class/misc/tdx_guest/measurements/rtmr3:sha384).")
    Path nativeRtmr3;

    @Option(names = "--max-body", paramLabel = "BYTES", defaultValue = "16777216",
            description = "Largest application request body (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--duration", paramLabel = "SECONDS", hidden = true, description = "Stop after this many seconds (tests).")
    Long duration;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if ((cert == null) != (key == null)) {
            throw new ParameterException(spec.commandLine(), "--cert and --key go together: give both or neither");
        }
        if (maxBody < 0) {
            throw CliErrors.usage("--max-body " + maxBody + " is negative: give a number of bytes");
        }
        checkUpstream(upstream);
        InetSocketAddress address = parseListen(listen, "--listen");
        ServerCertificate sc;
        if (cert != null) {
            Inputs.read(cert, "--cert");
            Inputs.read(key, "--key");
            try {
                sc = ServerCertificate.fromPem(cert, key);
            } catch (IOException | RuntimeException e) {
                throw CliErrors.input("--cert " + cert + " with --key " + key + ": " + CliErrors.detail(e)
                        + " (give a PEM certificate chain, leaf first, and its PEM private key)");
            }
        } else {
            List<String> n = names == null || names.isEmpty() ? List.of("localhost") : names;
            try {
                sc = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(365), n.toArray(new String[0]));
            } catch (RuntimeException e) {
                throw CliErrors.usage("--name " + String.join(",", n) + ": " + CliErrors.detail(e));
            }
            err.println("note: no --cert/--key: using a fresh self-signed certificate; clients must run in "
                    + "'trust the attested certificate' mode");
        }
        GuestAgentQuoteProvider.Builder pb = GuestAgentQuoteProvider.builder().measurement(measurement);
        if (agent != null) {
            try {
                pb.endpoint(agent);
            } catch (IllegalArgumentException e) {
                throw CliErrors.usage("--agent '" + agent + "' is empty: give a socket path, unix:PATH or an http(s) URL");
            }
        }
        if (nativeRtmr3 != null) {
            pb.nativeRtmr3(nativeRtmr3);
        }
        GuestAgentQuoteProvider provider;
        try {
            provider = pb.build();
        } catch (IllegalArgumentException e) {
            throw CliErrors.usage("--agent " + agent + ": " + CliErrors.detail(e));
        }
        AtlsServer built = AtlsServer.builder().listen(address).certificate(sc).quoteProvider(new Measuring(provider))
                .upstream(upstream).maxRequestBodyBytes(maxBody).listener(new StderrListener(err)).build();
        try (AtlsServer server = start(built, listen, "--listen")) {
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
            if (duration != null) {
                Thread.sleep(duration * 1000);
            } else {
                server.awaitTermination();
            }
        }
        return 0;
    }

    /** The upstream must be an absolute http(s) URL. */
    static void checkUpstream(URI upstream) throws CliErrors.CliException {
        if (upstream == null) {
            return;
        }
        String scheme = upstream.getScheme() == null ? "" : upstream.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || upstream.getHost() == null) {
            throw CliErrors.usage("--upstream " + upstream + " must be an http(s) URL with a host, such as "
                    + "http://127.0.0.1:8000");
        }
    }

    /**
     * Starts {@code server}; a failure names what failed: the guest agent that measures the certificate (with
     * the endpoint and the option to change) or the address that cannot be bound.
     */
    static AtlsServer start(AtlsServer server, String listenText, String listenOption) throws CliErrors.CliException {
        try {
            return server.start();
        } catch (IOException e) {
            AgentFailure af = CliErrors.find(e, AgentFailure.class);
            if (af != null) {
                throw CliErrors.io("cannot measure the server certificate: " + CliErrors.detail(af.getCause())
                        + "; pass --agent ENDPOINT (a socket path, unix:PATH or an http(s) URL) or set "
                        + GuestAgentQuoteProvider.SIMULATOR_ENDPOINT_ENV + " (inside a dstack CVM the agent is "
                        + GuestAgentQuoteProvider.DEFAULT_SOCKET + "; `atlas simulate --agent-socket PATH` serves a "
                        + "simulated one)", e);
            }
            throw CliErrors.cannotListen(listenText, listenOption, e);
        }
    }

    /** Marks failures of the provider's measurement, so that {@link #start} can tell them from bind failures. */
    static final class AgentFailure extends IOException {
        private static final long serialVersionUID = 1L;

        AgentFailure(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** Delegates to the guest-agent provider; wraps its {@code emitEvent} failures in {@link AgentFailure}. */
    static final class Measuring implements QuoteProvider {
        private final QuoteProvider delegate;

        Measuring(QuoteProvider delegate) {
            this.delegate = delegate;
        }

        @Override
        public GetQuoteResponse getQuote(byte[] reportData) throws IOException {
            return delegate.getQuote(reportData);
        }

        @Override
        public String tcbInfo() throws IOException {
            return delegate.tcbInfo();
        }

        @Override
        public void emitEvent(String event, byte[] payload) throws IOException {
            try {
                delegate.emitEvent(event, payload);
            } catch (IOException e) {
                throw new AgentFailure(e);
            }
        }

        @Override
        public String description() {
            return delegate.description();
        }
    }

    /** {@code HOST:PORT} or {@code [IPv6]:PORT}; {@code option} is named in errors. */
    static InetSocketAddress parseListen(String s, String option) throws CliErrors.CliException {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw CliErrors.usage(option + " " + s + ": expected HOST:PORT, such as 127.0.0.1:8443 (or [::1]:8443)");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw CliErrors.usage(option + " " + s + ": put an IPv6 address in brackets, such as [::1]:8443");
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw CliErrors.usage(option + " " + s + ": the port '" + s.substring(colon + 1) + "' is not a number");
        }
        if (port < 0 || port > 65535) {
            throw CliErrors.usage(option + " " + s + ": port " + port + " is out of range 0..65535");
        }
        return new InetSocketAddress(address(host, option + " " + s), port);
    }

    /**
     * The address of a host to listen on. Dotted numbers that are not an IPv4 address (999.1.1.1) are refused
     * without a DNS lookup; names are resolved.
     */
    static InetAddress address(String host, String what) throws CliErrors.CliException {
        if (host.isEmpty()) {
            throw CliErrors.usage(what + ": the host is empty: give an address such as 127.0.0.1 or 0.0.0.0");
        }
        if (host.matches("[0-9.]+")) {
            String[] parts = host.split("\\.", -1);
            boolean ok = parts.length == 4;
            for (String p : parts) {
                ok &= !p.isEmpty() && p.length() <= 3 && Integer.parseInt(p) <= 255;
            }
            if (!ok) {
                throw CliErrors.usage(what + ": " + host + " is not an IPv4 address (four numbers 0..255, "
                        + "such as 127.0.0.1)");
            }
        }
        try {
            return InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw CliErrors.usage(what + ": cannot resolve the host " + host + " (give an IP address such as "
                    + "127.0.0.1 or 0.0.0.0, or a name this machine resolves)");
        }
    }
    /** Names for a self-signed certificate on {@code address}: localhost, plus the address if it is specific. */
    static String[] certificateNames(InetSocketAddress address) {
        List<String> names = new ArrayList<>(List.of("localhost", "127.0.0.1"));
        String h = address.getAddress().getHostAddress();
        if (!address.getAddress().isAnyLocalAddress() && !names.contains(h)) {
            names.add(h);
        }
        return names.toArray(new String[0]);
    }
}
