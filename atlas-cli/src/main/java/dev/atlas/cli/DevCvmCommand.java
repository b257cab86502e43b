package dev.atlas.cli;

import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.testing.MockPccs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas dev cvm} (hidden, started by {@code atlas dev up}): the simulated CVM a control-plane component (the
 * KMS, the gateway) runs in. It is {@code atlas simulate}'s guest-agent mode without the aTLS endpoint: no fresh TLS
 * certificate is measured into RTMR3 at each start, so the CVM's {@code mr_aggregated} stays the same across
 * restarts and a resumed KMS passes its self-authorization with the measurement allowlisted at first bootstrap.
 * With {@code --pccs-port} it also serves the mock PCCS every simulated CVM of the devnet shares (same pki seed).
 * With {@code --kms} it waits for the KMS to listen, then boots against it as dstack-util does.
 */
@Command(name = "cvm", hidden = true, mixinStandardHelpOptions = true,
        description = "The simulated CVM of a devnet component (started by atlas dev up).")
final class DevCvmCommand implements Callable<Integer> {
    /** The line written to stdout once the agent (and the PCCS) serve. */
    static final String READY = "devnet-cvm ready";

    @Spec
    CommandSpec spec;

    @Option(names = "--name", required = true, description = "The CVM's name (its keys and ids derive from it).")
    String name;

    @Option(names = "--agent-socket", required = true, paramLabel = "PATH", description = "The guest agent's socket.")
    Path agentSocket;

    @Option(names = "--compose", required = true, paramLabel = "FILE", description = "app-compose.json.")
    Path compose;

    @Option(names = "--sys-config", paramLabel = "FILE", description = "sys-config.json (os image, kms and pccs urls).")
    Path sysConfig;

    @Option(names = "--pki-seed", required = true, paramLabel = "N", description = "The shared mock Intel PKI seed.")
    long pkiSeed;

    @Option(names = "--pccs-port", paramLabel = "N", description = "Also serve the mock PCCS on 127.0.0.1:N.")
    Integer pccsPort;

    @Option(names = "--root-ca-out", paramLabel = "FILE", description = "Write the mock Intel root (PEM) here.")
    Path rootCaOut;

    @Option(names = "--kms", paramLabel = "URL", description = "Boot against this KMS (its keys), waiting for it first.")
    URI kms;

    @Option(names = "--kms-pccs", paramLabel = "URL", description = "The mock PCCS that verifies the KMS.")
    String kmsPccs;

    @Option(names = "--wait-seconds", defaultValue = "60", description = "How long to wait for the KMS to listen.")
    int waitSeconds;

    @Override
    public Integer call() throws Exception {
        var out = spec.commandLine().getOut();
        byte[] composeBytes = Files.readAllBytes(compose);
        byte[] appId = java.util.Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(composeBytes), 20);
        byte[] seed = MessageDigest.getInstance("SHA-256").digest(("atlas-devnet-cvm-" + name)
                .getBytes(StandardCharsets.UTF_8));
        GuestAgentSimulator.Builder b = GuestAgentSimulator.builder().seed(seed).pkiSeed(pkiSeed).appId(appId)
                .compose(compose).internalSocket(agentSocket);
        if (sysConfig != null) {
            b.sysConfig(sysConfig);
        }
        if (kms != null) {
            b.kms(kms);
            if (kmsPccs != null) {
                b.kmsPccsUrl(kmsPccs);
            }
            awaitListening(kms, Duration.ofSeconds(waitSeconds));
        }
        Files.deleteIfExists(agentSocket); // a stale socket of a killed run; the devnet owns this path
        GuestAgentSimulator sim = b.start();
        MockPccs pccs = null;
        try {
            if (pccsPort != null) {
                pccs = MockPccs.start(sim::collateralJson, pccsPort);
            }
            if (rootCaOut != null) {
                Path tmp = rootCaOut.resolveSibling(rootCaOut.getFileName() + ".tmp");
                Files.writeString(tmp, sim.mockRootCaPem());
                Files.move(tmp, rootCaOut, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (RuntimeException | IOException e) {
            sim.close();
            throw e;
        }
        out.println("app id " + HexFormat.of().formatHex(sim.appId()) + ", agent unix:" + agentSocket
                + (pccs != null ? ", mock PCCS " + pccs.baseUrl() : "")
                + (kms != null ? ", keys from the KMS " + kms : ", keys from its seed"));
        out.println(READY);
        out.flush();
        MockPccs p = pccs;
        return Services.runUntilShutdown(() -> {
            try {
                sim.close();
            } finally {
                if (p != null) {
                    p.close();
                }
            }
        }, "devnet-cvm-shutdown");
    }

    /**
     * Polls a TLS handshake with the KMS (short backoff) until it completes or the time is up: before {@code /finish}
     * the KMS's port serves the plain-HTTP onboard API, so a TCP connect alone would be too early. This is only a
     * readiness probe (no trust decision): the boot that follows verifies the KMS's certificate and attestation.
     */
    private static void awaitListening(URI url, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        int port = url.getPort() > 0 ? url.getPort() : 443;
        long backoff = 20;
        javax.net.ssl.SSLSocketFactory f = dev.atlas.cli.devnet.ReadinessProbe.tlsContext().getSocketFactory();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(url.getHost(), port), 500);
                s.setSoTimeout(2000);
                try (javax.net.ssl.SSLSocket t = (javax.net.ssl.SSLSocket) f.createSocket(s, url.getHost(), port, false)) {
                    t.startHandshake();
                    return;
                }
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the KMS " + url + " did not serve TLS within " + max.toSeconds() + " s", e);
                }
            }
            Thread.sleep(backoff);
            backoff = Math.min(200, backoff * 2);
        }
    }
}
