package dev.atlas.cli;

import dev.atlas.server.AtlsServer;
import dev.atlas.server.GuestAgentQuoteProvider;
import dev.atlas.server.ServerCertificate;
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
            throw new ParameterException(spec.commandLine(), "--cert and --key go together");
        }
        InetSocketAddress address = parseListen(listen);
        ServerCertificate sc;
        if (cert != null) {
            sc = ServerCertificate.fromPem(cert, key);
        } else {
            List<String> n = names == null || names.isEmpty() ? List.of("localhost") : names;
            sc = ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(365), n.toArray(new String[0]));
            err.println("note: no --cert/--key: using a fresh self-signed certificate; clients must run in "
                    + "'trust the attested certificate' mode");
        }
        GuestAgentQuoteProvider.Builder pb = GuestAgentQuoteProvider.builder().measurement(measurement);
        if (agent != null) {
            pb.endpoint(agent);
        }
        if (nativeRtmr3 != null) {
            pb.nativeRtmr3(nativeRtmr3);
        }
        try (AtlsServer server = AtlsServer.builder().listen(address).certificate(sc).quoteProvider(pb.build())
                .upstream(upstream).maxRequestBodyBytes(maxBody).listener(new StderrListener(err)).build().start()) {
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
            if (duration != null) {
                Thread.sleep(duration * 1000);
            } else {
                server.awaitTermination();
            }
        }
        return 0;
    }

    /** {@code HOST:PORT} or {@code [IPv6]:PORT}. */
    static InetSocketAddress parseListen(String s) throws java.net.UnknownHostException {
        int colon = s.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("--listen must be HOST:PORT, got " + s);
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--listen port must be a number, got " + s);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--listen port out of range: " + port);
        }
        return new InetSocketAddress(InetAddress.getByName(host), port);
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
