package dev.atlas.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.atlas.dstack.Bootchain;
import dev.atlas.dstack.ComposeHash;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.simulator.GuestAgentSimulator;
import dev.atlas.server.AtlsServer;
import dev.atlas.server.GuestAgentQuoteProvider;
import dev.atlas.server.ServerCertificate;
import dev.atlas.server.testing.SimulatedQuoteProvider;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.TcbStatus;
import dev.atlas.testing.MockPccs;
import dev.atlas.testing.SimulatedCvm;
import dev.atlas.testing.SimulatedGuestAgent;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas simulate}: a simulated dstack CVM with its aTLS endpoint and a mock PCCS, plus the files a client
 * needs, running until interrupted.
 */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = {"Run a simulated dstack CVM: its aTLS endpoint (POST /tdx_quote + your app), a mock PCCS, "
                + "and write what a client needs into DIR: policy.json, root-ca.pem (mock Intel root), "
                + "server-cert.pem, simulation.json.",
            "Quotes are signed by a mock Intel PKI; a client must trust root-ca.pem through its for-testing option. "
                + "Nothing else differs from a real CVM.",
            "With --keys appkeys.json (or --sys-config, --attestation, --tappd-socket, --external-socket, "
                + "--agent-listen, --external-listen) it runs dstack's guest agent, simulated from dstack's own "
                + "simulator files (the whole DstackGuest API for dstack's SDKs, legacy Tappd, Worker), and the aTLS "
                + "endpoint takes its quotes from that agent."})
final class SimulateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8443",
            description = "Where the aTLS endpoint listens (default: ${DEFAULT-VALUE}; port 0 picks one).")
    String listen;

    @Option(names = "--compose", paramLabel = "FILE", description = "app-compose.json to measure (default: a built-in one).")
    Path compose;

    @Option(names = "--upstream", paramLabel = "URL",
            description = "Proxy application requests to this URL (default: a built-in hello endpoint).")
    URI upstream;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Directory for the client files, created if missing (default: a new temporary directory).")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the mock PKI, bootchain and ids (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--pccs-port", defaultValue = "0", description = "Port of the mock PCCS on 127.0.0.1 (default: any).")
    int pccsPort;

    @Option(names = "--agent-socket", paramLabel = "PATH",
            description = "Also serve the guest-agent API on this Unix socket (for `atlas server --agent PATH`).")
    Path agentSocket;

    @Option(names = "--keys", paramLabel = "FILE", description = "dstack's appkeys.json (unchanged format): run dstack's "
            + "guest agent simulated (the whole DstackGuest API, legacy Tappd, Worker) with these keys; see --sys-config.")
    Path keys;

    @Option(names = "--sys-config", paramLabel = "FILE",
            description = "dstack's sys-config.json for the guest-agent simulator (implies it, like --keys).")
    Path sysConfig;

    @Option(names = "--attestation", paramLabel = "FILE", description = "A captured dstack attestation (attestation.bin, "
            + "V0 SCALE or V1 msgpack) that the guest-agent simulator starts from, as dstack's simulator does (implies it).")
    Path attestation;

    @Option(names = "--app-id", paramLabel = "HEX", description = "The app id (40 hex digits) the guest-agent simulator "
            + "reports and signs GetKey chains under (default: the --attestation's, else the compose hash's first 20 "
            + "bytes). dstack's simulator files need 5bb4ff9a3837357f19dc176407a5709c62eb6c56 for their "
            + "k256_signature to name their KMS key.")
    String appId;

    @Option(names = "--kms", paramLabel = "URL", description = "Get the app keys from this dstack KMS at boot, as "
            + "dstack-util does (GetTempCaCert, an RA-TLS client certificate, the KMS server certificate checked, "
            + "GetAppKey), then serve GetKey/GetTlsKey from them (implies the guest-agent simulator; not with --keys or "
            + "--attestation). Needs --kms-pccs or --insecure-skip-kms-attestation.")
    URI kms;

    @Option(names = "--kms-pccs", paramLabel = "URL", description = "The mock PCCS of the KMS's simulated CVM: the KMS "
            + "server certificate's attestation is verified against this CVM's mock Intel root (same --pki-seed as "
            + "the KMS's CVM) with collateral from here.")
    String kmsPccs;

    @Option(names = "--insecure-skip-kms-attestation", description = "Insecure: with --kms, do not verify the "
            + "attestation in the KMS server certificate (its chain to the KMS CA and usage kms:rpc still are).")
    boolean insecureKms;

    @Option(names = "--pki-seed", paramLabel = "N", description = "Seed of the mock Intel PKI alone: simulated CVMs "
            + "with the same pki seed share one trust anchor and one mock PCCS (for example a KMS CVM and an app CVM). "
            + "Default: derived from --seed.")
    Long pkiSeed;

    @Option(names = "--host-share", paramLabel = "DIR", description = "Boot a simulated dstack guest OS from this VMM "
            + "host share (app-compose.json, .sys-config.json, .instance_info, .encrypted-env, .user-config): keys "
            + "from its kms_urls, env decrypted, runner bash started, ports forwarded, progress posted to --host-api. "
            + "Takes --work, --cid, --vm-address, --host-api, --pki-seed, --port, --insecure-skip-kms-attestation, "
            + "--insecure-gateway-loopback-transport; what the VMM's simulator backend runs.")
    Path hostShare;

    @Option(names = "--work", paramLabel = "DIR", description = "With --host-share: the guest's directory (dstack.sock).")
    Path guestWork;

    @Option(names = "--cid", paramLabel = "N", description = "With --host-share: the VM's CID (default VM address "
            + "127.254.(N>>8).(N&255)).")
    Integer guestCid;

    @Option(names = "--vm-address", paramLabel = "IP", description = "With --host-share: the address the app binds.")
    String guestVmAddress;

    @Option(names = "--host-api", paramLabel = "unix:PATH", description = "With --host-share: the VMM's host API socket.")
    String guestHostApi;

    @Option(names = "--port", paramLabel = "PROTO:ADDR:HOST:VM", description = "With --host-share: a host port "
            + "forwarded to the VM address (repeatable).")
    List<String> guestPorts = new ArrayList<>();

    @Option(names = "--insecure-gateway-loopback-transport", description = "Insecure, with --host-share: register with "
            + "gateways over loopback instead of WireGuard.")
    boolean guestLoopback;

    @Option(names = "--tappd-socket", paramLabel = "PATH",
            description = "Serve the legacy Tappd API (/prpc/Tappd.*) on this Unix socket (guest-agent simulator).")
    Path tappdSocket;

    @Option(names = "--external-socket", paramLabel = "PATH",
            description = "Serve the external Worker API (/prpc/Worker.*, redacted) on this Unix socket (guest-agent simulator).")
    Path externalSocket;

    @Option(names = "--agent-listen", paramLabel = "HOST:PORT", description = "Serve the guest-agent API over http on this "
            + "address too (guest-agent simulator; default: 127.0.0.1 on any port, which the aTLS endpoint uses when "
            + "there is no --agent-socket).")
    String agentListen;

    @Option(names = "--external-listen", paramLabel = "HOST:PORT",
            description = "Serve the external Worker API over http on this address (guest-agent simulator).")
    String externalListen;

    @Option(names = "--key-provider", defaultValue = "KMS",
            description = "Key provider the CVM booted with: ${COMPLETION-CANDIDATES} (only KMS measures os-image-hash).")
    SimulatedCvm.KeyProvider keyProvider;

    @Option(names = "--strip-runtime-digests", description = "Send runtime digests empty, as dstack >= 0.5.6 (honest).")
    boolean stripDigests;

    @Option(names = "--tcb-status", paramLabel = "STATUS", description = "Misbehave: the platform TCB level has this "
            + "status (Intel's spelling: UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
            + "ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked).")
    String tcbStatus;

    @Option(names = "--debug-td", description = "Misbehave: a debug TD.")
    boolean debugTd;

    @Option(names = "--wrong-compose", description = "Misbehave: measure another compose than the declared one.")
    boolean wrongCompose;

    @Option(names = "--rewrite-payload", paramLabel = "EVENT",
            description = "Misbehave: send a rewritten payload for this runtime event (digest and RTMR3 stay honest): "
                    + "system-preparing, app-id, compose-hash, instance-id, boot-mr-done, os-image-hash (KMS only), "
                    + "key-provider, system-ready, New TLS Certificate.")
    String rewriteEvent;

    @Option(names = "--replay-quote", description = "Misbehave: answer every request with the first quote.")
    boolean replayQuote;

    @Option(names = "--duration", paramLabel = "SECONDS", hidden = true, description = "Stop after this many seconds (tests).")
    Long duration;

    /**
     * The runtime events a simulated CVM measures, in order (dstack's boot sequence, then the server's
     * certificate); {@code os-image-hash} only with the KMS key provider.
     */
    static List<String> runtimeEvents(SimulatedCvm.KeyProvider kp) {
        List<String> names = new ArrayList<>(List.of("system-preparing", "app-id", "compose-hash", "instance-id",
                "boot-mr-done"));
        if (kp == SimulatedCvm.KeyProvider.KMS) {
            names.add("os-image-hash");
        }
        names.addAll(List.of("key-provider", "system-ready", SimulatedCvm.TLS_CERTIFICATE_EVENT));
        return names;
    }

    /** Checks every option before anything starts, so that a mistake never leaves a half-started simulator. */
    private void validate() throws CliErrors.CliException {
        if (pccsPort < 0 || pccsPort > 65535) {
            throw CliErrors.usage("--pccs-port " + pccsPort + " is out of range 0..65535 (0 picks a free port)");
        }
        if (tcbStatus != null) {
            try {
                TcbStatus.fromJsonName(tcbStatus);
            } catch (IllegalArgumentException e) {
                List<String> known = new ArrayList<>();
                for (TcbStatus t : TcbStatus.values()) {
                    known.add(t.jsonName());
                }
                throw CliErrors.usage("--tcb-status " + tcbStatus + " is not a TCB status of Intel's collateral; "
                        + "use one of (case-sensitive): " + String.join(", ", known));
            }
        }
        if (rewriteEvent != null && !runtimeEvents(keyProvider).contains(rewriteEvent)) {
            throw CliErrors.usage("--rewrite-payload " + rewriteEvent + " names no runtime event of the simulated CVM"
                    + (keyProvider != SimulatedCvm.KeyProvider.KMS && rewriteEvent.equals("os-image-hash")
                            ? " (with --key-provider " + keyProvider + " it measures no os-image-hash)" : "")
                    + "; use one of: " + String.join(", ", runtimeEvents(keyProvider)));
        }
        if (kms == null && (kmsPccs != null || insecureKms)) {
            throw CliErrors.usage("--kms-pccs and --insecure-skip-kms-attestation need --kms URL");
        }
        if (kms != null && (keys != null || attestation != null)) {
            throw CliErrors.usage("--kms takes the app keys from the KMS: not with --keys or --attestation");
        }
        if (kms != null && (kmsPccs != null) == insecureKms) {
            throw CliErrors.usage("--kms needs exactly one of --kms-pccs URL (verify the KMS's attestation) or "
                    + "--insecure-skip-kms-attestation");
        }
        if (duration != null && duration < 0) {
            throw CliErrors.usage("--duration " + duration + " is negative");
        }
        ServerCommand.checkUpstream(upstream);
    }

    /** The output directory, created and checked for writing before anything starts. */
    private Path outputDirectory() throws CliErrors.CliException {
        if (out == null) {
            try {
                return Files.createTempDirectory("atlas-simulate-");
            } catch (IOException e) {
                throw CliErrors.io("cannot create a temporary directory for the client files: "
                        + CliErrors.fileProblem(e) + " (pass --out DIR)", e);
            }
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw CliErrors.usage("--out " + out + " is a file; --out takes a directory (it is created if missing)"
                    + " for policy.json, root-ca.pem, server-cert.pem and simulation.json");
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw CliErrors.input("cannot create the --out directory " + out + ": " + CliErrors.fileProblem(e));
        }
        Path probe = out.resolve(".atlas-write-check");
        try {
            Files.deleteIfExists(probe);
            Files.createFile(probe);
            Files.delete(probe);
        } catch (IOException e) {
            throw CliErrors.input("cannot write into the --out directory " + out + ": " + CliErrors.fileProblem(e));
        }
        for (String f : List.of("policy.json", "root-ca.pem", "server-cert.pem", "simulation.json")) {
            if (Files.isDirectory(out.resolve(f))) {
                throw CliErrors.input("cannot write " + out.resolve(f) + " (--out): a directory of that name is in "
                        + "the way");
            }
        }
        return out;
    }

    private static void write(Path file, String text) throws CliErrors.CliException {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw CliErrors.unwritable(file, "--out", e);
        }
    }

    /** {@code --host-share}: delegates to {@link dev.atlas.dstack.simulator.SimulatedGuestOs} with its own flags. */
    private int runGuestOs() {
        List<String> a = new ArrayList<>(List.of("--host-share", hostShare.toString()));
        if (guestWork == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--host-share needs --work DIR");
        }
        a.addAll(List.of("--work", guestWork.toString()));
        if (guestCid != null) {
            a.addAll(List.of("--cid", guestCid.toString()));
        }
        if (guestVmAddress != null) {
            a.addAll(List.of("--vm-address", guestVmAddress));
        }
        if (guestHostApi != null) {
            a.addAll(List.of("--host-api", guestHostApi));
        }
        if (pkiSeed != null) {
            a.addAll(List.of("--pki-seed", pkiSeed.toString()));
        }
        if (insecureKms) {
            a.add("--insecure-skip-kms-attestation");
        }
        if (guestLoopback) {
            a.add("--insecure-gateway-loopback-transport");
        }
        for (String p : guestPorts) {
            a.addAll(List.of("--port", p));
        }
        return dev.atlas.dstack.simulator.SimulatedGuestOs.run(a.toArray(String[]::new), System.out, System.err);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        if (hostShare != null) {
            return runGuestOs();
        }
        validate();
        InetSocketAddress address = ServerCommand.parseListen(listen, "--listen");
        if (dstackAgentMode()) {
            return runGuestAgentSimulator(o, address);
        }
        SimulatedCvm.Builder b = SimulatedCvm.builder().seed(seed).keyProvider(keyProvider);
        if (pkiSeed != null) {
            b.pki(dev.atlas.testing.MockIntelPki.builder().seed(pkiSeed).build());
        }
        if (compose != null) {
            b.appCompose(Inputs.read(compose, "--compose"));
        }
        Path dir = outputDirectory();
        if (stripDigests) {
            b.stripRuntimeDigests();
        }
        if (tcbStatus != null) {
            b.tcbStatus(tcbStatus);
        }
        if (debugTd) {
            b.debugTd();
        }
        if (wrongCompose) {
            b.misbehaveMeasureCompose("{\"name\":\"not-what-you-deployed\"}".getBytes(StandardCharsets.UTF_8));
        }
        if (rewriteEvent != null) {
            b.misbehaveRewritePayload(rewriteEvent, "rewritten".getBytes(StandardCharsets.UTF_8));
        }
        if (replayQuote) {
            b.misbehaveReplayQuote();
        }
        SimulatedCvm cvm = b.build();

        ServerCertificate cert = serverCertificate(address);
        AtlsServer.Builder sb = AtlsServer.builder().listen(address).certificate(cert)
                .quoteProvider(SimulatedQuoteProvider.of(cvm))
                .listener(new StderrListener(spec.commandLine().getErr()))
                .checkQuoteReportData(!replayQuote);
        application(sb);
        AtlsServer server = sb.build(); // initializes the JDK server limits before the PCCS's server exists
        MockPccs pccs = startPccs(cvm::collateralJson);
        try (pccs;
             SimulatedGuestAgent agent = startAgent(cvm);
             AtlsServer running = ServerCommand.start(server, listen, "--listen")) {
            DstackTdxPolicy policy = policy(cvm, pccs.tdxUrl());
            write(dir.resolve("policy.json"), policy.toPrettyJson() + "\n");
            write(dir.resolve("root-ca.pem"), cvm.rootCertificatePem());
            write(dir.resolve("server-cert.pem"), cert.chainPem());
            String url = endpointUrl(address, running);
            ObjectNode sim = new ObjectMapper().createObjectNode();
            sim.put("url", url);
            sim.put("pccs_url", pccs.tdxUrl());
            sim.put("certificate_sha256", cert.leafSha256Hex());
            sim.put("behaviour", cvm.behaviour());
            sim.put("agent_socket", agentSocket == null ? null : agentSocket.toString());
            write(dir.resolve("simulation.json"), sim.toPrettyString() + "\n");

            o.println("Simulated dstack CVM (" + cvm.behaviour() + "), key provider " + cvm.keyProvider().wireName());
            printEndpoints(o, url, pccs);
            if (agentSocket != null) {
                o.println("  guest agent     unix:" + agentSocket);
            }
            o.println("  MRTD            " + cvm.mrTd());
            o.println("  compose hash    " + cvm.composeHash());
            printClientFiles(o, cert, dir, url,
                    "production-style policy (bootchain, OS image, compose, UpToDate, mock PCCS)");
            runUntilStopped(o, running, agent, pccs);
        }
        return 0;
    }

    // ---- dstack's guest agent, simulated (dstack-simulator's GuestAgentSimulator) ----------------------

    /** True when an option of the guest-agent simulator is given: then it runs instead of the built-in CVM. */
    boolean dstackAgentMode() {
        return keys != null || sysConfig != null || attestation != null || appId != null || tappdSocket != null
                || externalSocket != null || agentListen != null || externalListen != null || kms != null;
    }

    /** The options that only the built-in simulated CVM has (its misbehaviours and key provider). */
    private List<String> builtInOnlyOptions() {
        List<String> given = new ArrayList<>();
        var pr = spec.commandLine().getParseResult();
        for (String name : List.of("--key-provider", "--strip-runtime-digests", "--tcb-status", "--debug-td",
                "--wrong-compose", "--rewrite-payload", "--replay-quote")) {
            if (pr.hasMatchedOption(name)) {
                given.add(name);
            }
        }
        return given;
    }

    private static Path existingFile(Path p, String option) throws CliErrors.CliException {
        if (!Files.isRegularFile(p)) {
            throw CliErrors.input(option + " " + p + ": " + (Files.isDirectory(p) ? "is a directory, not a file"
                    : "no such file"));
        }
        if (!Files.isReadable(p)) {
            throw CliErrors.input(option + " " + p + ": cannot read it (permission denied)");
        }
        return p;
    }

    /** {@code http://0.0.0.0:P} (or {@code [::]}) as the address to connect to: {@code http://127.0.0.1:P}. */
    static URI loopbackIfWildcard(URI u) {
        String h = u.getHost();
        if (h != null && (h.equals("0.0.0.0") || h.equals("[::]") || h.equals("[0:0:0:0:0:0:0:0]"))) {
            return URI.create(u.getScheme() + "://127.0.0.1:" + u.getPort());
        }
        return u;
    }

    /** The 32-byte seed of the guest-agent simulator for {@code --seed N}: N big-endian in the last 8 bytes. */
    static byte[] seed32(long seed) {
        return java.nio.ByteBuffer.allocate(32).putLong(24, seed).array();
    }

    /**
     * Runs dstack's guest agent, simulated, with the aTLS endpoint on top of it: the endpoint's quotes come
     * from the simulator through {@link GuestAgentQuoteProvider} (exactly as {@code atlas server} inside a
     * CVM), and its certificate is measured through the simulator's {@code EmitEvent}.
     */
    private Integer runGuestAgentSimulator(PrintWriter o, InetSocketAddress address) throws Exception {
        List<String> builtIn = builtInOnlyOptions();
        if (!builtIn.isEmpty()) {
            throw CliErrors.usage(String.join(", ", builtIn) + " only applies to the built-in simulated CVM, not to "
                    + "dstack's guest agent simulated from --keys/--sys-config/--attestation (its appkeys.json decides "
                    + "the key provider)");
        }
        InetSocketAddress agentTcp = agentListen != null ? ServerCommand.parseListen(agentListen, "--agent-listen")
                : new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        InetSocketAddress externalTcp = externalListen != null
                ? ServerCommand.parseListen(externalListen, "--external-listen") : null;
        GuestAgentSimulator.Builder gb = GuestAgentSimulator.builder().internalTcp(agentTcp);
        if (pkiSeed != null) {
            gb.pkiSeed(pkiSeed);
        }
        if (kms != null) {
            gb.kms(kms);
            if (kmsPccs != null) {
                gb.kmsPccsUrl(kmsPccs);
            }
            if (insecureKms) {
                gb.insecureSkipKmsServerAttestation();
            }
        }
        if (keys != null) {
            gb.keys(existingFile(keys, "--keys"));
        } else {
            gb.seed(seed32(seed));
        }
        if (compose != null) {
            gb.compose(existingFile(compose, "--compose"));
        }
        if (sysConfig != null) {
            gb.sysConfig(existingFile(sysConfig, "--sys-config"));
        }
        if (attestation != null) {
            // upstream's mock_attestation_seed: the fixture's MRTD and RTMRs, re-signed by the mock PKI, so that the
            // aTLS endpoint's quotes verify against root-ca.pem
            gb.attestation(existingFile(attestation, "--attestation")).resignWithMockPki();
        }
        if (appId != null) {
            String hex = appId.startsWith("0x") ? appId.substring(2) : appId;
            if (!hex.matches("[0-9a-fA-F]{40}")) {
                throw CliErrors.usage("--app-id " + appId + ": expected 40 hex digits (20 bytes)");
            }
            gb.appId(java.util.HexFormat.of().parseHex(hex));
        }
        // a stale socket is replaced (as dstack's agent does); a regular file or a directory is never removed
        for (var sock : List.of(Map.entry("--agent-socket", Optional.ofNullable(agentSocket)),
                Map.entry("--tappd-socket", Optional.ofNullable(tappdSocket)),
                Map.entry("--external-socket", Optional.ofNullable(externalSocket)))) {
            Optional<Path> p = sock.getValue();
            if (p.isPresent() && (Files.isRegularFile(p.get()) || Files.isDirectory(p.get()))) {
                throw CliErrors.usage("cannot serve on the Unix socket " + p.get() + " (" + sock.getKey() + "): a "
                        + (Files.isDirectory(p.get()) ? "directory" : "file") + " of that name is in the way");
            }
        }
        if (agentSocket != null) {
            gb.internalSocket(agentSocket);
        }
        if (tappdSocket != null) {
            gb.tappdSocket(tappdSocket);
        }
        if (externalSocket != null) {
            gb.externalSocket(externalSocket);
        }
        if (externalTcp != null) {
            gb.externalTcp(externalTcp);
        }
        Path dir = outputDirectory();
        // AtlsServer's class sets the JDK HTTP server limits: initialize it before any other server of this JVM.
        AtlsServer.Builder sb = AtlsServer.builder();
        GuestAgentSimulator sim;
        try {
            sim = gb.start();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            if (CliErrors.find(e, java.net.SocketException.class) != null) {
                throw CliErrors.io("cannot start the guest-agent simulator: " + CliErrors.detail(e)
                        + " (check --agent-listen, --external-listen and the socket paths)", e);
            }
            // the files: each message names the file and the field (appkeys.json: k256_key: ...)
            throw CliErrors.input("cannot start the guest-agent simulator: " + CliErrors.detail(e));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw CliErrors.input("cannot start the guest-agent simulator: " + CliErrors.detail(e));
        }
        try (sim) {
            String agentEndpoint = agentSocket != null ? agentSocket.toString()
                    : loopbackIfWildcard(sim.internalUrl().orElseThrow()).toString();
            GuestAgentQuoteProvider provider = GuestAgentQuoteProvider.builder().endpoint(agentEndpoint)
                    .measurement(GuestAgentQuoteProvider.Measurement.EMIT_EVENT).build();
            ServerCertificate cert = serverCertificate(address);
            sb.listen(address).certificate(cert).quoteProvider(new ServerCommand.Measuring(provider))
                    .listener(new StderrListener(spec.commandLine().getErr()));
            application(sb);
            AtlsServer server = sb.build();
            MockPccs pccs = startPccs(sim::collateralJson);
            try (pccs; AtlsServer running = ServerCommand.start(server, listen, "--listen")) {
                JsonNode tcb = new ObjectMapper().readTree(provider.tcbInfo());
                String policy = sim.policyJson(pccs.tdxUrl());
                write(dir.resolve("policy.json"), new ObjectMapper().readTree(policy).toPrettyString() + "\n");
                write(dir.resolve("root-ca.pem"), sim.mockRootCaPem());
                write(dir.resolve("server-cert.pem"), cert.chainPem());
                String url = endpointUrl(address, running);
                String agentUrl = sim.internalUrl().map(URI::toString).orElse(null);
                ObjectNode js = new ObjectMapper().createObjectNode();
                js.put("url", url);
                js.put("pccs_url", pccs.tdxUrl());
                js.put("certificate_sha256", cert.leafSha256Hex());
                js.put("behaviour", "dstack guest agent (simulated)");
                js.put("app_id", java.util.HexFormat.of().formatHex(sim.appId()));
                js.put("kms_public_key", sim.kmsPublicKey().map(java.util.HexFormat.of()::formatHex).orElse(null));
                js.put("kms_url", kms == null ? null : kms.toString());
                js.put("agent_socket", sim.internalSocket().map(Path::toString).orElse(null));
                js.put("agent_url", agentUrl);
                js.put("tappd_socket", sim.tappdSocket().map(Path::toString).orElse(null));
                js.put("external_socket", sim.externalSocket().map(Path::toString).orElse(null));
                js.put("external_url", sim.externalUrl().map(URI::toString).orElse(null));
                write(dir.resolve("simulation.json"), js.toPrettyString() + "\n");

                o.println("Simulated dstack guest agent (keys " + (keys != null ? keys : kms != null ? "from the KMS "
                        + kms : "from --seed " + seed)
                        + (attestation != null ? ", attestation " + attestation : "") + ")");
                printEndpoints(o, url, pccs);
                sim.internalSocket().ifPresent(p -> o.println("  guest agent     unix:" + p + "  (DstackGuest at /)"));
                o.println("  guest agent     " + agentUrl + "  (DstackGuest at /)");
                sim.tappdSocket().ifPresent(p -> o.println("  tappd           unix:" + p + "  (legacy Tappd at /prpc)"));
                sim.externalSocket().ifPresent(p -> o.println("  external        unix:" + p + "  (Worker at /prpc)"));
                sim.externalUrl().ifPresent(u -> o.println("  external        " + u + "  (Worker at /prpc)"));
                o.println("  app id          " + java.util.HexFormat.of().formatHex(sim.appId()));
                sim.kmsPublicKey().ifPresent(k -> o.println("  KMS public key  " + java.util.HexFormat.of().formatHex(k)
                        + "  (GetKey chains verify to it)"));
                o.println("  MRTD            " + tcb.path("mrtd").asText());
                o.println("  compose hash    " + tcb.path("compose_hash").asText());
                printClientFiles(o, cert, dir, url, "the policy that accepts this simulated CVM (mock PCCS)");
                o.println("  DSTACK_SIMULATOR_ENDPOINT=" + agentEndpoint + " <your app using a dstack SDK>");
                runUntilStopped(o, running, sim, pccs);
            }
        }
        return 0;
    }

    private SimulatedGuestAgent startAgent(SimulatedCvm cvm) throws CliErrors.CliException {
        if (agentSocket == null) {
            return null;
        }
        try {
            return SimulatedGuestAgent.builder(cvm).unixSocket(agentSocket).start();
        } catch (java.io.UncheckedIOException | IllegalArgumentException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            String why = Files.exists(agentSocket) ? "a file of that name is in the way (remove it)"
                    : CliErrors.fileProblem(cause);
            throw CliErrors.io("cannot serve the guest agent on the Unix socket " + agentSocket + " (--agent-socket): "
                    + why, e);
        }
    }

    /** The production-style policy for {@code cvm}'s declared measurements, with the mock PCCS. */
    static DstackTdxPolicy policy(SimulatedCvm cvm, String pccsUrl) throws AttestationException {
        DstackTdxPolicy.Builder p = DstackTdxPolicy.builder()
                .expectedBootchain(Bootchain.of(cvm.mrTd(), cvm.rtmr(0), cvm.rtmr(1), cvm.rtmr(2)))
                .allowedTcbStatus(List.of("UpToDate"))
                .pccsUrl(pccsUrl)
                .cacheCollateral(true)
                // Without the KMS key provider the CVM measures no os-image-hash, and clients fail on it, as they
                // would against such a real CVM.
                .osImageHash(cvm.osImageHash());
        String text = new String(cvm.appCompose(), StandardCharsets.UTF_8);
        // Atlas's app_compose form when the file is byte-identical to serde's compact output (so Atlas clients
        // can use the same policy); otherwise the exact-bytes form.
        boolean serdeForm;
        try {
            serdeForm = ComposeHash.ofJsonText(text).equals(cvm.composeHash());
        } catch (RuntimeException e) {
            serdeForm = false;
        }
        if (serdeForm) {
            p.appCompose(ComposeHash.parseJson(text));
        } else {
            p.appComposeRaw(text);
        }
        return p.build();
    }

    // ---- shared by both modes (the built-in simulated CVM and dstack's guest agent, simulated) ----------

    /** The aTLS endpoint's self-signed certificate for {@code address}, valid for 30 days. */
    private static ServerCertificate serverCertificate(InetSocketAddress address) {
        return ServerCertificate.selfSigned(Clock.systemUTC(), Duration.ofDays(30),
                ServerCommand.certificateNames(address));
    }

    /** The application behind the aTLS endpoint: {@code --upstream}, else the built-in hello endpoint. */
    private void application(AtlsServer.Builder sb) {
        if (upstream != null) {
            sb.upstream(upstream);
        } else {
            sb.handler(SimulateCommand::hello);
        }
    }

    /** The mock PCCS on 127.0.0.1:{@code --pccs-port}, serving {@code collateralJson}. */
    private MockPccs startPccs(java.util.function.Supplier<String> collateralJson) throws CliErrors.CliException {
        try {
            return MockPccs.start(collateralJson, pccsPort);
        } catch (java.io.UncheckedIOException e) {
            throw CliErrors.cannotListen("127.0.0.1:" + pccsPort, "--pccs-port", e.getCause());
        }
    }

    /** The URL a client connects to: a wildcard listen address as 127.0.0.1, an IPv6 host in brackets. */
    private static String endpointUrl(InetSocketAddress address, AtlsServer running) {
        String host = address.getAddress().isAnyLocalAddress() ? "127.0.0.1" : address.getHostString();
        return "https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + running.port();
    }

    private void printEndpoints(PrintWriter o, String url, MockPccs pccs) {
        o.println("  aTLS endpoint   " + url + "  (POST /tdx_quote; other paths -> "
                + (upstream != null ? upstream : "built-in hello") + ")");
        o.println("  mock PCCS       " + pccs.baseUrl());
    }

    /** The certificate line, the client files (with {@code policyDescription}) and the atlas get example. */
    private static void printClientFiles(PrintWriter o, ServerCertificate cert, Path dir, String url,
            String policyDescription) {
        o.println("  certificate     sha256 " + cert.leafSha256Hex() + " (measured as New TLS Certificate)");
        o.println("Client files in " + dir + ":");
        o.println("  policy.json      " + policyDescription);
        o.println("  root-ca.pem      the mock Intel root: trust it through the client's for-testing option");
        o.println("  server-cert.pem  the self-signed server certificate (bound by the attestation)");
        o.println("Connect, for example:");
        o.println("  atlas get " + url + "/ --policy " + dir.resolve("policy.json") + " --root-ca "
                + dir.resolve("root-ca.pem") + " --trust-attested-cert");
    }

    /**
     * Prints the Ctrl-C line, then serves until interrupted (or for the hidden {@code --duration}). On Ctrl-C or
     * SIGTERM the JVM runs only shutdown hooks, not the callers' try-with-resources, so the hook also closes
     * {@code alsoClose} (the guest agent, whose close removes its socket files, and the PCCS); each close is
     * idempotent, so the normal path closing them again is harmless.
     */
    private void runUntilStopped(PrintWriter o, AtlsServer running, AutoCloseable... alsoClose)
            throws InterruptedException {
        o.println("Press Ctrl-C to stop.");
        o.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.close();
            for (AutoCloseable c : alsoClose) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (Exception ignored) {
                    // stopping anyway: nothing to report to at JVM exit
                }
            }
        }));
        if (duration != null) {
            Thread.sleep(duration * 1000);
        } else {
            running.awaitTermination();
        }
    }

    private static void hello(HttpExchange ex) throws IOException {
        byte[] body = ("{\"message\":\"hello from the simulated dstack CVM\",\"path\":"
                + new ObjectMapper().writeValueAsString(ex.getRequestURI().getPath()) + "}\n")
                .getBytes(StandardCharsets.UTF_8);
        ex.getRequestBody().readAllBytes();
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
    }
}
