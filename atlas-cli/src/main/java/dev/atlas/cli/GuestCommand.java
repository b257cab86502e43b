package dev.atlas.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.guest.AgentVersion;
import dev.atlas.dstack.guest.AppInfo;
import dev.atlas.dstack.guest.DerivedKey;
import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.DstackGuestException;
import dev.atlas.dstack.guest.Endpoint;
import dev.atlas.dstack.guest.Quote;
import dev.atlas.dstack.guest.Signature;
import dev.atlas.dstack.guest.TlsKey;
import dev.atlas.dstack.guest.TlsKeyRequest;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.Secp256k1;
import dev.atlas.tdx.AttestationException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code atlas guest ...}: curl-like calls to the dstack guest agent ({@code DstackGuest}, spec §5.2) through
 * dstack-guest's {@link DstackClient}, for operators checking a CVM. See {@code docs/cli-dstack.md} for the JSON
 * shapes.
 */
@Command(name = "guest", mixinStandardHelpOptions = true,
        description = {"Call the dstack guest agent of this CVM (or a simulator): info, quote, key, tls-key, sign,"
                + " verify, version.",
            "The agent is --endpoint (a socket path, unix:PATH or an http(s) URL), else $DSTACK_AGENT_ADDRESS, else "
                    + "$DSTACK_SIMULATOR_ENDPOINT, else the first existing of /var/run/dstack/dstack.sock, "
                    + "/var/run/dstack.sock, /run/dstack/dstack.sock, /run/dstack.sock.",
            "--json prints one JSON object on stdout (shapes in docs/cli-dstack.md; on failure "
                    + "{\"error\",\"message\",\"exit_code\"}).",
            "Exit codes: 0 success; 1 a signature chain does not verify or Verify says invalid; 2 usage or input "
                    + "error; 3 the agent could not be reached or answered with an error or a malformed answer."},
        subcommands = {GuestCommand.Info.class, GuestCommand.GetQuote.class, GuestCommand.Key.class,
            GuestCommand.GetTlsKey.class, GuestCommand.Sign.class, GuestCommand.Verify.class,
            GuestCommand.Version.class})
final class GuestCommand extends ParentCommand {
    static final HexFormat HEX = HexFormat.of();

    /**
     * A failed call, in words: the endpoint, the method and what went wrong; exit {@value CliErrors#IO}. The
     * JSON error code is the {@link DstackGuestException.Reason} name.
     */
    static CliErrors.CliException agentFailure(DstackGuestException e, boolean explicitEndpoint) {
        String what = switch (e.reason()) {
            case CONNECT_FAILED -> connectProblem(e.endpoint());
            case TIMEOUT -> "no complete answer in time (a hung or very slow agent?)";
            case RESPONSE_TOO_LARGE -> "the answer is larger than the "
                    + (DstackClient.DEFAULT_MAX_RESPONSE_BYTES >> 20) + " MiB limit";
            case MALFORMED_HTTP -> "the answer is not well-formed HTTP (is this a guest agent?)";
            case AGENT_ERROR -> "the agent refused the call: " + CliErrors.scrub(e.agentError());
            case UNEXPECTED_STATUS -> "the agent answered HTTP " + e.status() + (e.status() == 404
                    ? " (this agent does not know " + e.method() + "; an older dstack OS?)" : "");
            case MALFORMED_RESPONSE -> "the answer is malformed"
                    + (e.field() != null ? " (field " + e.field() + ")" : "");
            case IO -> "I/O error (" + CliErrors.detail(e.getCause() != null ? e.getCause() : e) + ")";
        };
        String hint = e.reason() == DstackGuestException.Reason.CONNECT_FAILED && !explicitEndpoint
                ? "; give --endpoint (a socket path, unix:PATH or an http(s) URL) or set "
                        + Endpoint.AGENT_ADDRESS_ENV + " or " + Endpoint.SIMULATOR_ENV : "";
        return new CliErrors.CliException(CliErrors.IO, e.reason().name(), "dstack guest agent at " + e.endpoint()
                + ", method " + e.method() + ": " + what + hint, e);
    }

    private static String connectProblem(String endpoint) {
        if (endpoint != null && endpoint.startsWith("unix:")) {
            Path p = Path.of(endpoint.substring(5));
            if (!Files.exists(p)) {
                return "the socket " + p + " does not exist (is the guest agent running?)";
            }
            return "cannot connect to the socket (nothing listens on it, or permission denied)";
        }
        return "cannot connect (connection refused, unknown host or TLS failure; is the agent running there?)";
    }

    /** A verification failure (the {@code GetKey} chain): exit {@value CliErrors#REJECTED}, the fine reason as code. */
    static CliErrors.CliException rejected(String what, AttestationException e) {
        String code = e instanceof RaException r ? r.raReason().name() : e.reason().name();
        return new CliErrors.CliException(CliErrors.exitCode(e), code, what + ": " + CliErrors.scrub(e.getMessage()), e);
    }

    /** Options and error handling shared by every {@code guest} subcommand. */
    abstract static class Call implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--endpoint", paramLabel = "ENDPOINT", description = "guest agent: a socket path, unix:PATH or "
                + "an http(s) URL (default: $DSTACK_AGENT_ADDRESS, $DSTACK_SIMULATOR_ENDPOINT, then the usual sockets)")
        String endpoint;

        @Option(names = "--json", description = "print one JSON object on stdout (the error too)")
        boolean json;

        /** Calls the agent and prints; returns the exit code. */
        abstract int run(DstackClient client, PrintWriter out, PrintWriter err) throws Exception;

        /** Checks the options before anything is sent (input errors, exit 2). */
        void validate() throws CliErrors.CliException {}

        DstackClient client() throws CliErrors.CliException {
            if (endpoint != null && endpoint.isBlank()) {
                throw CliErrors.usage("--endpoint is empty: give a socket path, unix:PATH or an http(s) URL");
            }
            try {
                DstackClient.Builder b = DstackClient.builder();
                if (endpoint != null) {
                    b.endpoint(endpoint);
                }
                return b.build();
            } catch (IllegalArgumentException e) {
                String from = endpoint != null ? "--endpoint " + endpoint
                        : "the agent address from " + Endpoint.AGENT_ADDRESS_ENV + " or " + Endpoint.SIMULATOR_ENV;
                throw CliErrors.usage(from + ": " + CliErrors.detail(e)
                        + " (give a socket path, unix:PATH or an http(s) URL such as http://127.0.0.1:8090)");
            }
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                validate();
                DstackClient c = client();
                int code = run(c, out, err);
                out.flush();
                err.flush();
                return code;
            } catch (DstackGuestException e) {
                return fail(agentFailure(e, endpoint != null), out, err);
            } catch (CliErrors.CliException e) {
                return fail(e, out, err);
            } catch (AttestationException e) {
                return fail(rejected("verification failed", e), out, err);
            } catch (Exception e) {
                return fail(CliErrors.of(e), out, err);
            }
        }

        int fail(CliErrors.CliException e, PrintWriter out, PrintWriter err) {
            return CliErrors.report(e, json, out, err);
        }

        void print(PrintWriter out, ObjectNode o, Text.Lines lines) {
            if (json) {
                out.println(o.toString());
            } else {
                lines.print(out);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ info

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Info: the app's identity and TCB info.")
    static final class Info extends Call {
        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            AppInfo i = c.info();
            ObjectNode o = Text.object();
            o.put("app_id", i.appId());
            o.put("instance_id", i.instanceId());
            o.put("app_name", i.appName());
            o.put("device_id", i.deviceId());
            o.put("mr_aggregated", i.mrAggregated());
            o.put("os_image_hash", i.osImageHash());
            o.put("compose_hash", i.composeHash());
            o.put("key_provider_info", i.keyProviderInfo());
            o.put("cloud_vendor", i.cloudVendor());
            o.put("cloud_product", i.cloudProduct());
            o.put("app_cert", i.appCert());
            o.put("tcb_info", i.tcbInfo());
            o.put("vm_config", i.vmConfig());
            Text.Lines l = new Text.Lines().add("endpoint", c.endpoint()).add("app_id", i.appId())
                    .add("instance_id", i.instanceId()).add("app_name", i.appName())
                    .add("compose_hash", i.composeHash()).add("os_image_hash", i.osImageHash())
                    .add("mr_aggregated", i.mrAggregated()).add("device_id", i.deviceId())
                    .add("key_provider", i.keyProviderInfo());
            JsonNode tcb = tcbInfo(i.tcbInfo());
            if (tcb != null) {
                for (String f : List.of("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3")) {
                    if (tcb.path(f).isTextual()) {
                        l.add(f, tcb.get(f).textValue());
                    }
                }
            } else if (!i.tcbInfo().isEmpty()) {
                l.add("tcb_info", "(" + i.tcbInfo().length() + " characters, not JSON)");
            }
            if (!i.cloudVendor().isEmpty() || !i.cloudProduct().isEmpty()) {
                l.add("cloud", (i.cloudVendor() + " " + i.cloudProduct()).strip());
            }
            l.add("app_cert", i.appCert().isEmpty() ? "-" : "(" + i.appCert().length() + " characters of PEM; --json has it)");
            print(out, o, l);
            return CliErrors.OK;
        }

        /** The agent's {@code tcb_info} JSON text, or null when it is empty or not a JSON object. */
        static JsonNode tcbInfo(String text) {
            if (text == null || text.isEmpty() || text.length() > (4 << 20)) {
                return null;
            }
            try {
                JsonNode n = QuoteCommand.JSON.readTree(text);
                return n != null && n.isObject() ? n : null;
            } catch (Exception e) {
                return null;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ quote

    @Command(name = "quote", mixinStandardHelpOptions = true,
            description = {"GetQuote: a TDX quote with the given report data (at most 64 bytes; the agent pads it "
                    + "with zeros; none given: all zeros).",
                "--json prints the agent's GetQuoteResponse fields (quote, event_log, report_data, vm_config, "
                        + "attestation), which `atlas attestation verify` reads."})
    static final class GetQuote extends Call {
        @ArgGroup(exclusive = true)
        ReportData data = new ReportData();

        static final class ReportData {
            @Option(names = "--report-data", paramLabel = "HEX", description = "report data as hex (at most 64 bytes)")
            String hex;

            @Option(names = "--nonce-text", paramLabel = "TEXT", description = "report data as UTF-8 text (at most 64 bytes)")
            String text;
        }

        byte[] reportData() throws CliErrors.CliException {
            byte[] rd = data.hex != null ? AttestationCommand.hexOption("--report-data", data.hex, 0)
                    : data.text != null ? data.text.getBytes(StandardCharsets.UTF_8) : new byte[0];
            if (rd.length > 64) {
                throw CliErrors.input((data.hex != null ? "--report-data" : "--nonce-text") + " is " + rd.length
                        + " bytes: the report data is at most 64 bytes");
            }
            return rd;
        }

        @Override
        void validate() throws CliErrors.CliException {
            reportData();
        }

        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            Quote q = c.getQuote(reportData());
            ObjectNode o = Text.object();
            o.put("quote", HEX.formatHex(q.quote()));
            o.put("event_log", q.eventLog());
            o.put("report_data", HEX.formatHex(q.reportData()));
            o.put("vm_config", q.vmConfig());
            o.put("attestation", HEX.formatHex(q.attestation()));
            Text.Lines l = new Text.Lines().add("endpoint", c.endpoint()).add("quote", q.quote().length + " bytes");
            if (q.quote().length > 0) {
                try {
                    dev.atlas.tdx.Quote parsed = dev.atlas.tdx.Quote.parse(q.quote());
                    l.add("version", parsed.header().version()).add("tee", parsed.header().teeType());
                    if (parsed.tdReport() != null) {
                        l.add("mr_td", parsed.tdReport().mrTd());
                        for (int i = 0; i < 4; i++) {
                            l.add("rtmr" + i, parsed.tdReport().rtmr(i));
                        }
                        l.add("debug", parsed.tdReport().isDebug() ? "YES (a debug TD proves nothing)" : "no");
                    }
                } catch (AttestationException e) {
                    l.add("parse", "the quote does not parse: " + CliErrors.scrub(e.getMessage()));
                }
            }
            l.add("report_data", HEX.formatHex(q.reportData()));
            l.add("event_log", eventCount(q.eventLog()));
            if (q.attestation().length > 0) {
                l.add("attestation", q.attestation().length + " bytes");
            }
            print(out, o, l);
            return CliErrors.OK;
        }

        private static String eventCount(String log) {
            if (log.isEmpty()) {
                return "(empty)";
            }
            try {
                JsonNode n = QuoteCommand.JSON.readTree(log);
                return n != null && n.isArray() ? n.size() + " events" : log.length() + " characters";
            } catch (Exception e) {
                return log.length() + " characters (not JSON)";
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ key

    @Command(name = "key", mixinStandardHelpOptions = true,
            description = {"GetKey: the key derived for PATH and its signature chain [app signature, KMS signature].",
                "With --kms-pubkey the chain is verified against that KMS root key (exit 1 if not); without, it is "
                        + "NOT verified and the KMS key it recovers to is printed.",
                "The derived private key is printed only with --out-key - (or written with --out-key FILE, mode 0600)."})
    static final class Key extends Call {
        @Parameters(index = "0", paramLabel = "PATH", description = "key path, e.g. /wallet/0")
        String path;

        @Option(names = "--purpose", paramLabel = "PURPOSE", defaultValue = "",
                description = "purpose, signed into the chain (default: empty)")
        String purpose;

        @Option(names = "--algorithm", paramLabel = "ALG", defaultValue = "secp256k1",
                description = "secp256k1 (default; alias k256) or ed25519")
        String algorithm;

        @Option(names = "--kms-pubkey", paramLabel = "HEX",
                description = "the KMS root public key you trust (secp256k1, 33 or 65 bytes SEC1)")
        String kmsPubkey;

        @Option(names = "--out-key", paramLabel = "FILE|-",
                description = "write the derived private key (hex) to FILE (mode 0600), or '-' to print it")
        String outKey;

        byte[] expectedKms() throws CliErrors.CliException {
            if (kmsPubkey == null) {
                return null;
            }
            byte[] k = AttestationCommand.hexOption("--kms-pubkey", kmsPubkey, 0);
            if (k.length != 33 && k.length != 65) {
                throw CliErrors.input("--kms-pubkey is " + k.length + " bytes: give a secp256k1 public key (33 bytes "
                        + "compressed or 65 bytes uncompressed SEC1, as hex)");
            }
            try {
                return Secp256k1.compress(k);
            } catch (RaException e) {
                throw CliErrors.input("--kms-pubkey is not a point on secp256k1");
            }
        }

        String normalizedAlgorithm() throws CliErrors.CliException {
            return switch (algorithm) {
                case "secp256k1", "k256" -> "secp256k1";
                case "ed25519" -> "ed25519";
                default -> throw CliErrors.usage("--algorithm " + algorithm + ": give secp256k1 (alias k256) or ed25519");
            };
        }

        @Override
        void validate() throws CliErrors.CliException {
            normalizedAlgorithm();
            expectedKms();
        }

        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            String alg = normalizedAlgorithm();
            byte[] expected = expectedKms();
            AppInfo info = c.info();
            byte[] appId;
            try {
                appId = HEX.parseHex(info.appId());
            } catch (IllegalArgumentException e) {
                throw CliErrors.io("dstack guest agent at " + c.endpoint() + ", method Info: app_id is not hex", e);
            }
            DerivedKey k = alg.equals("secp256k1") && expected != null ? c.getKey(path, purpose, expected)
                    : c.getKey(path, purpose, alg);
            byte[] publicKey = publicKey(alg, k.key());
            List<byte[]> chain = k.signatureChain();
            KmsSignatures.ChainResult rec = KmsSignatures.recoverGetKeyChain(publicKey, purpose, chain, appId);
            if (expected != null) {
                // secp256k1 was checked by DstackClient already; this is the ed25519 path (same two links)
                KmsSignatures.requireKms(rec, expected);
            }
            ObjectNode o = Text.object();
            o.put("path", path);
            o.put("purpose", purpose);
            o.put("algorithm", alg);
            o.put("app_id", info.appId());
            o.put("public_key", HEX.formatHex(publicKey));
            ArrayNode a = o.putArray("signature_chain");
            chain.forEach(s -> a.add(HEX.formatHex(s)));
            o.put("app_public_key", HEX.formatHex(rec.appPublicKey()));
            o.put("kms_public_key", HEX.formatHex(rec.kmsPublicKey()));
            o.put("verified", expected != null);
            if (expected != null) {
                o.put("expected_kms_public_key", HEX.formatHex(expected));
            }
            Text.Lines l = new Text.Lines().add("path", path).add("purpose", purpose.isEmpty() ? "(empty)" : purpose)
                    .add("algorithm", alg)
                    .add("app_id", info.appId()).add("public_key", HEX.formatHex(publicKey))
                    .add("app_public_key", HEX.formatHex(rec.appPublicKey())).add("kms_public_key", HEX.formatHex(rec.kmsPublicKey()))
                    .add("chain", expected != null ? "verified: the KMS link recovers to --kms-pubkey"
                            : "NOT verified (no --kms-pubkey): compare kms_public_key with the KMS root you trust");
            byte[] secret = k.key();
            try {
                if ("-".equals(outKey)) {
                    o.put("key", HEX.formatHex(secret));
                    l.add("key", HEX.formatHex(secret));
                } else if (outKey != null) {
                    SecretFiles.writePrivate(Path.of(outKey), (HEX.formatHex(secret) + "\n").getBytes(StandardCharsets.US_ASCII),
                            "--out-key");
                    o.put("key_file", outKey);
                    l.add("key", "written to " + outKey + " (mode 0600)");
                } else {
                    l.add("key", "(hidden; --out-key FILE or --out-key - to get it)");
                }
            } finally {
                java.util.Arrays.fill(secret, (byte) 0);
            }
            print(out, o, l);
            return CliErrors.OK;
        }

        /** The public key the agent signed: compressed SEC1 for secp256k1, the 32-byte Ed25519 key for ed25519. */
        static byte[] publicKey(String alg, byte[] key) throws RaException {
            if (alg.equals("ed25519")) {
                if (key.length != 32) {
                    throw new RaException(RaException.Reason.INVALID_ARGUMENT, "key", "an ed25519 key is 32 bytes, got "
                            + key.length);
                }
                byte[] pub = new byte[32];
                org.bouncycastle.math.ec.rfc8032.Ed25519.generatePublicKey(key, 0, pub, 0);
                return pub;
            }
            return K256PrivateKey.fromScalar(key).publicKey();
        }
    }

    // ------------------------------------------------------------------------------------------------ tls-key

    @Command(name = "tls-key", mixinStandardHelpOptions = true,
            description = {"GetTlsKey: a fresh P-256 key and its certificate chain [leaf, app CA(, KMS root)].",
                "The private key is never printed unless --out-key -; --out-key FILE writes it (PKCS#8 PEM, mode 0600)."})
    static final class GetTlsKey extends Call {
        @Option(names = "--subject", required = true, paramLabel = "CN", description = "the leaf's common name")
        String subject;

        @Option(names = "--alt-name", paramLabel = "DNS", description = "a subjectAltName DNS name (repeatable)")
        List<String> altNames = new ArrayList<>();

        @Option(names = "--ra-tls", description = "put the attestation (bound to the key) in the certificate")
        boolean raTls;

        @Option(names = "--server-auth", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "serverAuth extended key usage (default: on, as the SDKs)")
        boolean serverAuth;

        @Option(names = "--client-auth", description = "clientAuth extended key usage")
        boolean clientAuth;

        @Option(names = "--app-info", description = "put the app info extension in the certificate (dstack OS 0.5.7+)")
        boolean appInfo;

        @Option(names = "--out-key", paramLabel = "FILE|-", description = "write the key (PKCS#8 PEM) to FILE, mode "
                + "0600, or '-' to print it")
        String outKey;

        @Option(names = "--out-chain", paramLabel = "FILE", description = "write the certificate chain (PEM) to FILE")
        Path outChain;

        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            TlsKeyRequest.Builder rb = TlsKeyRequest.builder().subject(subject).altNames(altNames).usageRaTls(raTls)
                    .usageServerAuth(serverAuth).usageClientAuth(clientAuth);
            if (appInfo) {
                rb.withAppInfo(true);
            }
            TlsKey k = c.getTlsKey(rb.build());
            ObjectNode o = Text.object();
            // The leaf's dstack extensions; an attestation bound to another key is refused before anything is saved.
            RaTlsCertificate leaf = RaTlsCertificate.parse(k.certificates().get(0));
            Boolean bound = RatlsCommand.Inspect.binding(leaf);
            if (Boolean.FALSE.equals(bound)) {
                throw new RaException(RaException.Reason.RATLS_BINDING_MISMATCH, "attestation.report_data",
                        "the leaf's attestation is not bound to the leaf key (SHA-512(\"ratls-cert:\" || SPKI))");
            }
            ObjectNode ra = o.putObject("ratls");
            ra.put("usage", leaf.usage().orElse(null));
            ra.put("attestation", bound != null);
            ra.put("app_info", leaf.appInfo().isPresent());
            ArrayNode pems = o.putArray("certificate_chain");
            k.certificateChainPem().forEach(pems::add);
            ArrayNode certs = o.putArray("certificates");
            Text.Lines l = new Text.Lines().add("endpoint", c.endpoint());
            int n = 0;
            for (X509Certificate x : k.certificates()) {
                ObjectNode ci = certs.addObject();
                ci.put("subject", x.getSubjectX500Principal().getName());
                ci.put("issuer", x.getIssuerX500Principal().getName());
                ci.put("not_before", x.getNotBefore().toInstant().toString());
                ci.put("not_after", x.getNotAfter().toInstant().toString());
                ArrayNode san = ci.putArray("dns_names");
                dnsNames(x).forEach(san::add);
                String label = n == 0 ? "leaf" : "chain[" + n + "]";
                l.add(label, x.getSubjectX500Principal().getName());
                if (n == 0) {
                    l.add("  dns", dnsNames(x).isEmpty() ? "-" : String.join(", ", dnsNames(x)));
                    l.add("  valid", x.getNotBefore().toInstant() + " .. " + x.getNotAfter().toInstant());
                    l.add("  issuer", x.getIssuerX500Principal().getName());
                    l.add("  usage", leaf.usage().orElse("-"));
                    l.add("  ra-tls", bound == null ? "no attestation" : "attestation bound to the leaf key"
                            + (leaf.appInfo().isPresent() ? ", app info" : ""));
                }
                n++;
            }
            if (outChain != null) {
                SecretFiles.writePublic(outChain, String.join("", k.certificateChainPem()).getBytes(StandardCharsets.US_ASCII),
                        "--out-chain");
                o.put("chain_file", outChain.toString());
                l.add("chain", "written to " + outChain);
            }
            if ("-".equals(outKey)) {
                o.put("key", k.keyPem());
                l.add("key", "printed below");
            } else if (outKey != null) {
                SecretFiles.writePrivate(Path.of(outKey), k.keyPem().getBytes(StandardCharsets.US_ASCII), "--out-key");
                o.put("key_file", outKey);
                l.add("key", "written to " + outKey + " (mode 0600)");
            } else {
                l.add("key", "(not kept; --out-key FILE to save it)");
            }
            print(out, o, l);
            if (!json && "-".equals(outKey)) {
                out.print(k.keyPem().endsWith("\n") ? k.keyPem() : k.keyPem() + "\n");
            }
            return CliErrors.OK;
        }

        static List<String> dnsNames(X509Certificate x) {
            List<String> names = new ArrayList<>();
            try {
                if (x.getSubjectAlternativeNames() != null) {
                    for (List<?> e : x.getSubjectAlternativeNames()) {
                        if (e.size() >= 2 && Integer.valueOf(2).equals(e.get(0))) {
                            names.add(String.valueOf(e.get(1)));
                        }
                    }
                }
            } catch (CertificateParsingException e) {
                names.add("(unreadable subjectAltName)");
            }
            return names;
        }
    }

    // ------------------------------------------------------------------------------------------------ sign / verify

    /** {@code --data HEX | --data-file FILE}, one of them required. */
    static final class Data {
        @Option(names = "--data", paramLabel = "HEX", description = "the data as hex")
        String hex;

        @Option(names = "--data-file", paramLabel = "FILE", description = "the data: the bytes of FILE")
        Path file;

        byte[] bytes() throws CliErrors.CliException {
            return hex != null ? AttestationCommand.hexOption("--data", hex, 0) : Inputs.read(file, "--data-file");
        }
    }

    static String signAlgorithm(String a, byte[] data) throws CliErrors.CliException {
        if (!List.of("ed25519", "secp256k1", "secp256k1_prehashed").contains(a)) {
            throw CliErrors.usage("--algorithm " + a + ": give ed25519, secp256k1 or secp256k1_prehashed");
        }
        if (a.equals("secp256k1_prehashed") && data != null && data.length != 32) {
            throw CliErrors.input("secp256k1_prehashed signs a 32-byte digest: the data is " + data.length + " bytes");
        }
        return a;
    }

    @Command(name = "sign", mixinStandardHelpOptions = true,
            description = "Sign: sign the data with the app's signing key (ed25519; secp256k1 over SHA-256(data); "
                    + "secp256k1_prehashed over a 32-byte digest).")
    static final class Sign extends Call {
        @Option(names = "--algorithm", required = true, paramLabel = "ALG",
                description = "ed25519, secp256k1 or secp256k1_prehashed")
        String algorithm;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Data data;

        @Override
        void validate() throws CliErrors.CliException {
            signAlgorithm(algorithm, data.bytes());
        }

        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            byte[] d = data.bytes();
            Signature s = c.sign(signAlgorithm(algorithm, d), d);
            ObjectNode o = Text.object();
            o.put("algorithm", algorithm);
            o.put("signature", HEX.formatHex(s.signature()));
            o.put("public_key", HEX.formatHex(s.publicKey()));
            ArrayNode a = o.putArray("signature_chain");
            s.signatureChain().forEach(x -> a.add(HEX.formatHex(x)));
            Text.Lines l = new Text.Lines().add("algorithm", algorithm).add("signature", HEX.formatHex(s.signature()))
                    .add("public_key", HEX.formatHex(s.publicKey()))
                    .add("signature_chain", s.signatureChain().size() + " links (--json has them)");
            print(out, o, l);
            return CliErrors.OK;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Verify: ask the agent whether SIGNATURE over the data verifies under PUBLIC-KEY.",
                "Exit 0 valid, 1 invalid."})
    static final class Verify extends Call {
        @Option(names = "--algorithm", required = true, paramLabel = "ALG",
                description = "ed25519, secp256k1 or secp256k1_prehashed")
        String algorithm;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Data data;

        @Option(names = "--signature", required = true, paramLabel = "HEX", description = "the signature as hex")
        String signature;

        @Option(names = "--public-key", required = true, paramLabel = "HEX", description = "the public key as hex")
        String publicKey;

        @Override
        void validate() throws CliErrors.CliException {
            signAlgorithm(algorithm, data.bytes());
            AttestationCommand.hexOption("--signature", signature, 0);
            AttestationCommand.hexOption("--public-key", publicKey, 0);
        }

        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            byte[] d = data.bytes();
            boolean valid = c.verify(signAlgorithm(algorithm, d), d, AttestationCommand.hexOption("--signature", signature, 0),
                    AttestationCommand.hexOption("--public-key", publicKey, 0));
            ObjectNode o = Text.object();
            o.put("valid", valid);
            print(out, o, new Text.Lines().add("valid", valid ? "yes" : "NO"));
            if (!valid) {
                err.println("invalid: the agent says the signature does not verify under --public-key");
                return CliErrors.REJECTED;
            }
            return CliErrors.OK;
        }
    }

    // ------------------------------------------------------------------------------------------------ version

    @Command(name = "version", mixinStandardHelpOptions = true,
            description = "Version: the agent's version and git revision (dstack OS 0.5.7+).")
    static final class Version extends Call {
        @Override
        int run(DstackClient c, PrintWriter out, PrintWriter err) throws Exception {
            AgentVersion v = c.version();
            ObjectNode o = Text.object();
            o.put("version", v.version());
            o.put("rev", v.rev());
            print(out, o, new Text.Lines().add("endpoint", c.endpoint()).add("version", v.version()).add("rev", v.rev()));
            return CliErrors.OK;
        }
    }
}
