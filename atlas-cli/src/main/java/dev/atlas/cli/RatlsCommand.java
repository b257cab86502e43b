package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.AttestationReport;
import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.dstack.ra.AppInfo;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.RaTlsVerifier;
import dev.atlas.dstack.ra.RuntimeEvent;
import dev.atlas.dstack.ra.VersionedAttestation;
import dev.atlas.tdx.AttestationException;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code atlas ratls inspect}: print (and with {@code --policy} verify) a dstack RA-TLS certificate. */
@Command(name = "ratls", mixinStandardHelpOptions = true, description = "Inspect dstack RA-TLS certificates.",
        subcommands = {RatlsCommand.Inspect.class})
final class RatlsCommand extends ParentCommand {
    static final HexFormat HEX = HexFormat.of();

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = {"Print a dstack RA-TLS certificate: subject, SAN, validity, key usages, the dstack "
                    + "extensions (usage, app id, app info) and the attestation (format, TEE, MRTD, RTMRs, events) "
                    + "with whether it is bound to the certificate key (SHA-512(\"ratls-cert:\" || SPKI)).",
                "With --policy it is verified: the chain up to --ca (by key and DN), every certificate's validity, "
                        + "the attestation (DCAP, report data, RTMR3 replay) and the policy.",
                "--json prints one JSON object (shape in docs/cli-dstack.md).",
                "Exit 0 printed (and verified); 1 the attestation is bound to another key, or verification failed; "
                        + "2 usage error or an unreadable or malformed file; 3 the PCCS could not be reached."})
    static final class Inspect implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "CERT.pem", description = "the certificate (PEM or DER); with --chain, "
                + "the chain, leaf first")
        Path cert;

        @Option(names = "--chain", description = "read every certificate in the file (leaf first, then its issuers)")
        boolean chain;

        @Option(names = "--ca", paramLabel = "CA.pem", description = "the trusted CA (its key and subject DN are "
                + "trusted, not the certificate itself; a KMS replica re-creates it)")
        Path ca;

        @Option(names = "--policy", paramLabel = "POLICY.json", description = "verify with this Atlas policy")
        Path policy;

        @Option(names = "--usage", paramLabel = "USAGE", description = "with --policy: the leaf's special usage must "
                + "be this (kms:rpc, app:ca, app:custom; default: any)")
        String usage;

        @ArgGroup(exclusive = true)
        CliOptions.CollateralChoice collateral = new CliOptions.CollateralChoice();

        @Mixin
        CliOptions.VerificationTime at = new CliOptions.VerificationTime();

        @Mixin
        CliOptions.RootCa rootCa = new CliOptions.RootCa();

        @Option(names = "--json", description = "print one JSON object on stdout (the error too)")
        boolean json;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            List<X509Certificate> certs;
            RaTlsCertificate leaf;
            RaTlsVerifier verifier = null;
            Instant when = null;
            try {
                if (policy == null && (ca != null || usage != null || collateral.file != null || collateral.pccs != null
                        || rootCa.given() || at.at != null)) {
                    throw CliErrors.usage("--ca, --usage, --collateral, --pccs, --root-ca and --at need --policy "
                            + "(without it the certificate is only printed)");
                }
                certs = certificates(cert, chain);
                try {
                    leaf = RaTlsCertificate.parse(certs.get(0));
                } catch (RaException e) {
                    throw CliErrors.input(cert + " is not a valid RA-TLS certificate: " + CliErrors.scrub(e.getMessage()));
                }
                if (policy != null) {
                    when = at.instant();
                    verifier = verifier(certs, when, err);
                }
            } catch (CliErrors.CliException e) {
                return fail(e, out, err);
            }

            ObjectNode o = Text.object();
            o.put("file", cert.toString());
            Text.Lines l = new Text.Lines();
            describe(certs, leaf, o, l);
            Boolean binding = binding(leaf);
            ObjectNode v = o.putObject("verification");
            v.put("performed", verifier != null);
            CliErrors.CliException failure = null;
            if (verifier != null) {
                try {
                    RaTlsVerifier.Result r = verifier.verify(certs, when);
                    v.put("verified", true);
                    v.put("ca_checked", ca != null);
                    l.add("verification", "VERIFIED at " + when + (ca != null ? ": chain to --ca " + ca
                            : ": chain to the file's last certificate (NOT a trust anchor: no --ca)"));
                    if (r.report().isPresent()) {
                        AttestationReport rep = r.report().get();
                        o.set("report", readTree(rep.toJson()));
                        l.add("  tcb_status", rep.tcbStatus().jsonName() + (rep.advisoryIds().isEmpty() ? ""
                                : " " + rep.advisoryIds()));
                        l.add("  policy", rep.policySummary());
                        for (String w : rep.policyWarnings()) {
                            l.add("  warning", w);
                        }
                    }
                } catch (AttestationException e) {
                    failure = GuestCommand.rejected("verification failed", e);
                    if (e.reason() == AttestationException.Reason.COLLATERAL_FETCH_FAILED) {
                        failure = new CliErrors.CliException(failure.exitCode(), failure.code(), failure.getMessage()
                                + " (check --pccs or the policy's pccs_url, or pass --collateral FILE)", e);
                    }
                }
            } else if (binding != null && !binding) {
                // Printing only, but a certificate whose attestation belongs to another key is a "no".
                failure = GuestCommand.rejected("the certificate's attestation is bound to another key",
                        new RaException(RaException.Reason.RATLS_BINDING_MISMATCH, "attestation.report_data",
                                "is not SHA-512(\"ratls-cert:\" || SPKI) of the certificate key"));
            } else {
                l.add("verification", "NOT done (give --policy, and --ca, to verify)");
            }
            if (failure != null) {
                v.put("verified", false);
                ObjectNode e = v.putObject("error");
                e.put("error", failure.code());
                e.put("message", failure.getMessage());
                e.put("exit_code", failure.exitCode());
                l.add("verification", "FAILED: " + failure.getMessage());
            }
            if (json) {
                out.println(o.toString());
            } else {
                l.print(out);
            }
            out.flush();
            if (failure != null) {
                err.println("error: " + failure.getMessage());
                err.flush();
                return failure.exitCode();
            }
            return CliErrors.OK;
        }

        int fail(CliErrors.CliException e, PrintWriter out, PrintWriter err) {
            return CliErrors.report(e, json, out, err);
        }

        private RaTlsVerifier verifier(List<X509Certificate> certs, Instant when, PrintWriter err)
                throws CliErrors.CliException {
            DstackTdxPolicy p = Inputs.policy(policy, "--policy");
            Clock clock = Clock.fixed(when, ZoneOffset.UTC);
            RaTlsVerifier.Builder rb = RaTlsVerifier.builder()
                    .dstackVerifier(CliOptions.dstackVerifier(clock, rootCa, collateral, p, err)).appraiser(p);
            if (usage != null) {
                rb.usage(usage);
            } else {
                rb.anyUsage();
            }
            if (ca != null) {
                rb.trustedCa(Inputs.certificate(ca, "--ca"));
            } else if (certs.size() >= 2) {
                rb.trustedCa(certs.get(certs.size() - 1));
                err.println("WARNING: no --ca: the chain is checked only up to the last certificate of " + cert
                        + ", which is NOT a trust anchor; the attestation and its binding are verified.");
            } else {
                throw CliErrors.usage("--policy needs --ca (the CA that issued the certificate), or --chain with the "
                        + "issuer in " + cert);
            }
            return rb.build();
        }

        /** The certificates of {@code file}: the first, or with {@code all} every one (leaf first). */
        static List<X509Certificate> certificates(Path file, boolean all) throws CliErrors.CliException {
            byte[] b = Inputs.read(file, null);
            Collection<? extends Certificate> cs;
            try {
                cs = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(b));
            } catch (CertificateException | RuntimeException e) {
                cs = List.of();
            }
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : cs) {
                if (c instanceof X509Certificate x) {
                    out.add(x);
                }
            }
            if (out.isEmpty()) {
                throw CliErrors.input(file + " is not a PEM or DER X.509 certificate (" + b.length
                        + " bytes that do not parse as one)");
            }
            if (out.size() > RaTlsVerifier.MAX_CHAIN_LENGTH) {
                throw CliErrors.input(file + " has " + out.size() + " certificates: at most "
                        + RaTlsVerifier.MAX_CHAIN_LENGTH);
            }
            return all ? out : out.subList(0, 1);
        }

        /** Whether the attestation's report data is the certificate key's RA-TLS binding; null without attestation. */
        static Boolean binding(RaTlsCertificate leaf) {
            return leaf.versionedAttestation().map(a -> MessageDigest.isEqual(a.reportData(),
                    RaTlsCertificate.reportData(leaf.certificate().getPublicKey()))).orElse(null);
        }

        private static com.fasterxml.jackson.databind.JsonNode readTree(String json) {
            try {
                return QuoteCommand.JSON.readTree(json);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        static void describe(List<X509Certificate> certs, RaTlsCertificate leaf, ObjectNode o, Text.Lines l) {
            ArrayNode arr = o.putArray("certificates");
            for (int i = 0; i < certs.size(); i++) {
                X509Certificate x = certs.get(i);
                ObjectNode c = arr.addObject();
                c.put("subject", x.getSubjectX500Principal().getName());
                c.put("issuer", x.getIssuerX500Principal().getName());
                c.put("serial", x.getSerialNumber().toString(16));
                c.put("not_before", x.getNotBefore().toInstant().toString());
                c.put("not_after", x.getNotAfter().toInstant().toString());
                ArrayNode dns = c.putArray("dns_names");
                List<String> names = GuestCommand.GetTlsKey.dnsNames(x);
                names.forEach(dns::add);
                int pathLen = x.getBasicConstraints();
                c.put("ca", pathLen >= 0);
                if (pathLen >= 0) {
                    c.put("path_len", pathLen == Integer.MAX_VALUE ? -1 : pathLen);
                }
                ArrayNode eku = c.putArray("extended_key_usage");
                List<String> ekus = ekus(x);
                ekus.forEach(eku::add);
                c.put("key", keyDescription(x));
                c.put("sha256", fingerprint(x));
                String prefix = i == 0 ? "" : "chain[" + i + "] ";
                if (i == 0) {
                    l.add("subject", x.getSubjectX500Principal().getName())
                            .add("issuer", x.getIssuerX500Principal().getName())
                            .add("serial", x.getSerialNumber().toString(16))
                            .add("valid", x.getNotBefore().toInstant() + " .. " + x.getNotAfter().toInstant())
                            .add("dns", names.isEmpty() ? "-" : String.join(", ", names))
                            .add("key", keyDescription(x))
                            .add("ext key usage", ekus.isEmpty() ? "-" : String.join(", ", ekus))
                            .add("ca", pathLen >= 0 ? "yes (path length " + (pathLen == Integer.MAX_VALUE ? "unlimited"
                                    : pathLen) + ")" : "no");
                } else {
                    l.add(prefix.strip(), x.getSubjectX500Principal().getName() + " (valid "
                            + x.getNotBefore().toInstant() + " .. " + x.getNotAfter().toInstant() + ")");
                }
            }
            ObjectNode d = o.putObject("dstack");
            d.put("usage", leaf.usage().orElse(null));
            d.put("app_id", leaf.appId().map(HEX::formatHex).orElse(null));
            l.add("usage", leaf.usage().orElse("-"));
            l.add("app_id", leaf.appId().map(HEX::formatHex).orElse("-"));
            if (leaf.appInfo().isPresent()) {
                AppInfo ai = leaf.appInfo().get();
                ObjectNode a = d.putObject("app_info");
                a.put("app_id", HEX.formatHex(ai.appId()));
                a.put("compose_hash", HEX.formatHex(ai.composeHash()));
                a.put("instance_id", HEX.formatHex(ai.instanceId()));
                a.put("device_id", HEX.formatHex(ai.deviceId()));
                a.put("mr_system", HEX.formatHex(ai.mrSystem()));
                a.put("mr_aggregated", HEX.formatHex(ai.mrAggregated()));
                a.put("os_image_hash", HEX.formatHex(ai.osImageHash()));
                a.put("key_provider_info", ReportText.payload(ai.keyProviderInfo()));
                l.add("app_info", "present (extension .9)");
                l.add("  app_id", HEX.formatHex(ai.appId())).add("  compose_hash", HEX.formatHex(ai.composeHash()))
                        .add("  instance_id", HEX.formatHex(ai.instanceId()))
                        .add("  device_id", HEX.formatHex(ai.deviceId()))
                        .add("  mr_system", HEX.formatHex(ai.mrSystem()))
                        .add("  mr_aggregated", HEX.formatHex(ai.mrAggregated()))
                        .add("  os_image_hash", HEX.formatHex(ai.osImageHash()))
                        .add("  key_provider", ReportText.payload(ai.keyProviderInfo()));
            } else {
                d.putNull("app_info");
                l.add("app_info", "-");
            }
            if (leaf.versionedAttestation().isEmpty()) {
                d.putNull("attestation");
                l.add("attestation", "none");
                return;
            }
            VersionedAttestation att = leaf.versionedAttestation().get();
            ObjectNode a = d.putObject("attestation");
            String format = leaf.legacyAttestation() ? "legacy" : att.version() == 0 ? "v0" : "v1";
            a.put("format", format);
            l.add("attestation", leaf.legacyAttestation() ? "legacy (quote .1 and event log .2)"
                    : att.version() == 0 ? "V0 (SCALE)" : "V1 (msgpack)");
            try {
                dev.atlas.tdx.Quote q = dev.atlas.tdx.Quote.parse(att.quote());
                a.put("tee", q.header().teeType().toString());
                a.put("quote_version", q.header().version());
                l.add("  tee", q.header().teeType() + " (quote v" + q.header().version() + ")");
                if (q.tdReport() != null) {
                    a.put("mr_td", q.tdReport().mrTd());
                    l.add("  mr_td", q.tdReport().mrTd());
                    for (int i = 0; i < 4; i++) {
                        a.put("rtmr" + i, q.tdReport().rtmr(i));
                        l.add("  rtmr" + i, q.tdReport().rtmr(i));
                    }
                    a.put("debug", q.tdReport().isDebug());
                    if (q.tdReport().isDebug()) {
                        l.add("  debug", "YES (a debug TD proves nothing)");
                    }
                }
            } catch (AttestationException e) {
                a.put("quote_error", CliErrors.scrub(e.getMessage()));
                l.add("  quote", "does not parse: " + CliErrors.scrub(e.getMessage()));
            }
            a.put("event_log_entries", att.eventLog().size());
            ArrayNode ev = a.putArray("runtime_events");
            for (RuntimeEvent e : att.runtimeEvents()) {
                ev.addObject().put("event", e.event()).put("payload_hex", HEX.formatHex(e.payload()));
            }
            l.add("  events", att.eventLog().size() + " in the log, " + att.runtimeEvents().size() + " runtime");
            for (RuntimeEvent e : att.runtimeEvents()) {
                l.add("    " + e.event(), ReportText.payload(e.payload()));
            }
            boolean bound = Boolean.TRUE.equals(binding(leaf));
            a.put("binding", bound ? "matches" : "mismatch");
            l.add("  binding", bound ? "matches the certificate key" : "DOES NOT match the certificate key");
        }

        static List<String> ekus(X509Certificate x) {
            List<String> out = new ArrayList<>();
            try {
                List<String> oids = x.getExtendedKeyUsage();
                if (oids != null) {
                    for (String oid : oids) {
                        out.add(switch (oid) {
                            case "1.3.6.1.5.5.7.3.1" -> "serverAuth";
                            case "1.3.6.1.5.5.7.3.2" -> "clientAuth";
                            default -> oid;
                        });
                    }
                }
            } catch (CertificateParsingException e) {
                out.add("(unreadable)");
            }
            return out;
        }

        static String keyDescription(X509Certificate x) {
            if (x.getPublicKey() instanceof ECPublicKey ec) {
                int bits = ec.getParams().getCurve().getField().getFieldSize();
                return "EC " + (bits == 256 ? "P-256" : bits + "-bit");
            }
            return x.getPublicKey().getAlgorithm();
        }

        static String fingerprint(X509Certificate x) {
            try {
                return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(x.getEncoded()));
            } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
                return "-";
            }
        }
    }
}
