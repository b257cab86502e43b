package dev.atlas.cli.devnet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The guide's configuration files for a devnet, each annotated with the guide step it stands for (the guide is
 * dstack's {@code docs/deployment.md}), plus what they point at: the proxy's wildcard certificate, the guest
 * image directory, the control-plane CVMs' compose files.
 */
final class Configs {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HexFormat HEX = HexFormat.of();
    /** The OS image of every devnet CVM ({@code images/<name>/digest.txt}), allowlisted in {@code osImages}. */
    static final String IMAGE_NAME = "dstack-dev-0.5.5";

    private Configs() {}

    /** The dev image's hash: fixed, derived from its name (no real image here). */
    static String osImageHash() {
        return HEX.formatHex(sha256(("atlas-devnet-os-image-" + IMAGE_NAME).getBytes(StandardCharsets.US_ASCII)));
    }

    // ---- the guide's files -------------------------------------------------------------------------------------

    /** {@code kms.toml}: the guide's "Deploy KMS as CVM" step, dev variant (mock Intel root, webhook auth). */
    static String kmsToml(Layout l) {
        return """
                # kms.toml -- the guide's step "2. Deploy KMS as CVM" (docs/deployment.md), written by `atlas dev up`.
                # Dev variant: the KMS runs in a simulated CVM (`atlas dev cvm`, guest agent at DSTACK_AGENT_ADDRESS),
                # quotes are signed by a mock Intel PKI, so the attestation root is overridden (INSECURE, dev only).
                # RPC and onboarding share one port, as in the guide; "Bootstrap KMS" is done by `atlas dev up`
                # through Onboard.Bootstrap, then GET /finish.

                [rpc]
                address = "127.0.0.1"
                port = %2$d

                [rpc.tls]
                key = "%1$s/rpc.key"
                certs = "%1$s/rpc.crt"

                [rpc.tls.mutual]
                ca_certs = "%1$s/tmp-ca.crt"
                mandatory = false

                [core]
                cert_dir = "%1$s"
                subject_postfix = ".dstack"

                # dev only: trust the mock Intel root of the simulated CVMs (the guide's production KMS keeps Intel's)
                [core.attestation]
                insecure_allow_external_trust_anchors = true

                [core.attestation.urls]
                pccs = "%3$s"

                [core.attestation.root_ca]
                tdx = "%4$s"

                # dev only: there is no real guest image to measure
                [core.image]
                verify = false

                # the guide's "Auth Server Options": auth-simple as a webhook (atlas auth-server, auth-config.json)
                [core.auth_api]
                type = "webhook"

                [core.auth_api.webhook]
                url = "%5$s"

                [core.onboard]
                enabled = true
                auto_bootstrap_domain = ""
                address = "127.0.0.1"
                port = %2$d
                """.formatted(l.kmsCerts(), l.port("kms"), l.pccsUrl(), l.mockRoot(), l.authUrl());
    }

    /** {@code gateway.toml}: the guide's "Deploy Gateway as CVM" step, dev variant. */
    static String gatewayToml(Layout l, String adminToken, String wgPrivate, String wgPublic) {
        return """
                # gateway.toml -- the guide's step "3. Deploy Gateway as CVM" (docs/deployment.md), written by
                # `atlas dev up`. The gateway runs in its own simulated CVM (`atlas dev cvm`, guest agent at
                # DSTACK_AGENT_ADDRESS); its app id and compose hash were registered in auth-config.json first and
                # set as gatewayAppId, as the guide orders. Dev differences: a static wildcard certificate for
                # *.%7$s from a devnet CA (GATEWAY_CERT/GATEWAY_KEY of the 0.5.x guide; certbot is not used), and
                # loopback transport instead of WireGuard (INSECURE, one host only; no TUN device needed).
                address = "127.0.0.1:%1$d"

                # the RPC certificate comes from the guest agent (rpc_domain); these files are written at start
                [tls]
                key = "%2$s/gateway-rpc.key"
                certs = "%2$s/gateway-rpc.cert"

                [tls.mutual]
                ca_certs = "%2$s/gateway-ca.cert"
                mandatory = false

                [core]
                rpc_domain = "gateway.%7$s"

                # the guide's admin API (dashboard and /prpc/Admin.*), Bearer token below
                [core.admin]
                enabled = true
                address = "127.0.0.1:%3$d"
                auth_token = "%4$s"

                [core.debug]
                insecure_enable_debug_rpc = false
                insecure_skip_attestation = false
                # dev only: instances are reached on 127.b.c.d for client IP a.b.c.d, without WireGuard
                insecure_loopback_transport = true

                # WireGuard as the guide sets it (same port number as the RPC); with loopback transport only the
                # addresses matter: client IP 10.%12$d.c.d is reached at 127.%12$d.c.d (one /16 per devnet on this host)
                [core.wg]
                public_key = "%5$s"
                private_key = "%6$s"
                listen_port = %1$d
                ip = "10.%12$d.0.1/16"
                reserved_net = ["10.%12$d.0.1/32"]
                client_ip_range = "10.%12$d.0.0/16"
                config_path = "%8$s/wg.conf"
                interface = "dgw-dev"
                endpoint = "127.0.0.1:%1$d"

                # the proxy: https://<app_id>[-<port>[s|g]].%7$s:%9$d/
                [core.proxy]
                cert_chain = "%10$s"
                cert_key = "%11$s"
                base_domain = "%7$s"
                listen_addr = "127.0.0.1"
                listen_port = %9$d
                external_port = %9$d

                [core.sync]
                data_dir = "%8$s"
                """.formatted(l.port("gateway-rpc"), l.gatewayCerts(), l.port("gateway-admin"), adminToken, wgPublic,
                wgPrivate, l.baseDomain(), l.gatewayData(), l.proxyPort(), l.proxyCert(), l.proxyKey(), l.subnetOctet());
    }

    /** {@code vmm.toml}: the guide's "1. Set Up TDX Host" and "Update VMM Configuration", simulator backend. */
    static String vmmToml(Layout l, String token) {
        return """
                # vmm.toml -- the guide's step "1. Set Up TDX Host" (docs/deployment.md) with "Update VMM
                # Configuration" (kms_urls, gateway_urls) done, written by `atlas dev up`. Dev difference: the
                # simulator backend (no TDX, no QEMU): each VM is a simulated dstack guest OS in a child process.
                address = "tcp:127.0.0.1:%1$d"
                reuse = true
                run_path = "%2$s"
                kms_url = "%3$s"

                [image]
                path = "%4$s"

                # pRPC and dashboard need `Authorization: Bearer <token>` (or ?token= in a browser)
                [auth]
                enabled = true
                tokens = ["%5$s"]

                [cvm]
                backend = "simulator"
                kms_urls = ["%3$s"]
                gateway_urls = ["%6$s"]
                cid_start = 30000
                cid_pool_size = 1000
                pccs_url = "%7$s"

                # the simulated CVMs share the KMS's mock Intel PKI; they reach the gateway over loopback (INSECURE);
                # command: this JVM running dev.atlas.dstack.simulator.SimulatedGuestOs (bin/simulated-guest)
                [cvm.simulator]
                pki_seed = %8$d
                insecure_loopback_transport = true
                command = ["%11$s"]

                [cvm.port_mapping]
                enabled = true
                address = "127.0.0.1"
                range = [
                    { protocol = "tcp", from = 1, to = 65535 },
                ]

                # the dashboard's app links
                [gateway]
                base_domain = "%9$s"
                port = %10$d
                agent_port = 8090
                """.formatted(l.port("vmm"), l.vms(), l.kmsUrl(), l.images(), token, l.gatewayRpcUrl(), l.pccsUrl(),
                Layout.PKI_SEED, l.baseDomain(), l.proxyPort(), l.guestLauncher());
    }

    /**
     * {@code auth-config.json}: the guide's "Using auth-simple (Config-Based)" file. JSON has no comments: its
     * step is named in the {@code "_comment"} key, which auth-simple ignores? It does not: unknown keys are
     * reported, so the annotation lives in {@code auth-config.README} beside it.
     */
    static String authConfig(List<String> osImages, String gatewayAppId, List<String> kmsMrs,
            Map<String, List<String>> apps) {
        return dev.atlas.dstack.auth.AuthConfig.allowAnyDeviceJson(osImages, gatewayAppId, kmsMrs, apps);
    }

    static final String AUTH_README = """
            auth-config.json -- the guide's "Using auth-simple (Config-Based)" (docs/deployment.md, step 2), written
            and kept up to date by `atlas dev up` (JSON has no comments, hence this file):
              osImages          the dev guest image (images/%s/digest.txt) and the control-plane CVMs' image
              gatewayAppId      the gateway CVM's app id ("Deploy Gateway as CVM": registered before it boots)
              kms.mrAggregated  the KMS CVM's measurement from Onboard.GetAttestationInfo ("Bootstrap KMS")
              apps              the gateway's app and every app deployed by atlas dev (app id -> compose hashes)
            atlas auth-server re-reads it on every request (atomic rename).
            """.formatted(IMAGE_NAME);

    /** The KMS CVM's {@code app-compose.json} (its app id is the hash's first 20 bytes). */
    static String kmsCompose() {
        return "{\"manifest_version\":2,\"name\":\"dstack-kms\",\"runner\":\"bash\",\"bash_script\":\"true\","
                + "\"kms_enabled\":false,\"gateway_enabled\":false,\"local_key_provider_enabled\":true,"
                + "\"public_tcbinfo\":true}\n";
    }

    /** The gateway CVM's {@code app-compose.json}. */
    static String gatewayCompose() {
        return "{\"manifest_version\":2,\"name\":\"dstack-gateway\",\"runner\":\"bash\",\"bash_script\":\"true\","
                + "\"kms_enabled\":true,\"gateway_enabled\":false,\"public_tcbinfo\":true}\n";
    }

    /** A control-plane CVM's {@code sys-config.json}: the dev OS image, the KMS and the PCCS. */
    static String sysConfig(Layout l, boolean withKms) {
        ObjectNode vm = JSON.createObjectNode();
        vm.put("spec_version", 1);
        vm.put("os_image_hash", osImageHash());
        vm.put("cpu_count", 2);
        vm.put("memory_size", 2147483648L);
        ObjectNode sc = JSON.createObjectNode();
        ArrayNode kms = sc.putArray("kms_urls");
        if (withKms) {
            kms.add(l.kmsUrl());
        }
        sc.putArray("gateway_urls");
        sc.put("pccs_url", l.pccsUrl());
        sc.put("vm_config", vm.toString());
        return sc.toPrettyString() + "\n";
    }

    /** The dev guest image directory (placeholder files: the simulator backend boots no kernel). */
    static void writeImage(Layout l) throws IOException {
        Path img = Files.createDirectories(l.images().resolve(IMAGE_NAME));
        write(img.resolve("metadata.json"), "{\"bios\":\"ovmf.fd\",\"kernel\":\"bzImage\",\"cmdline\":\"console=ttyS0 "
                + "init=/init\",\"initrd\":\"initramfs.cpio.gz\",\"rootfs\":\"rootfs.img.verity\",\"version\":\"0.5.5\","
                + "\"is_dev\":true}\n");
        for (String f : List.of("ovmf.fd", "bzImage", "initramfs.cpio.gz", "rootfs.img.verity")) {
            write(img.resolve(f), "");
        }
        write(img.resolve("digest.txt"), osImageHash() + "\n");
    }

    /** {@code bin/atlas}: this JVM and class path running atlas-cli (the demo apps' bash scripts call it). */
    static String launcher(List<String> javaCommand) {
        StringBuilder b = new StringBuilder("#!/bin/sh\n# written by `atlas dev up`: this JVM and class path (" 
                + javaCommand.getLast() + ")\nexec");
        for (String a : javaCommand) {
            b.append(' ').append(shellQuote(a));
        }
        return b.append(" \"$@\"\n").toString();
    }

    static String shellQuote(String s) {
        if (s.matches("[A-Za-z0-9_@%+=:,./-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\"'\"'") + "'";
    }

    // ---- keys ---------------------------------------------------------------------------------------------------

    /** A WireGuard key pair, base64 {private, public} (X25519 from the JDK). */
    static String[] wireGuardKeys() {
        try {
            KeyPair kp = KeyPairGenerator.getInstance("X25519").generateKeyPair();
            byte[] priv = kp.getPrivate().getEncoded();
            byte[] pub = kp.getPublic().getEncoded();
            return new String[] {Base64.getEncoder().encodeToString(Arrays.copyOfRange(priv, priv.length - 32,
                    priv.length)), Base64.getEncoder().encodeToString(Arrays.copyOfRange(pub, pub.length - 32,
                    pub.length))};
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is not available", e);
        }
    }

    /** 32 random bytes, hex: admin and VMM tokens. */
    static String token() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HEX.formatHex(b);
    }

    /**
     * The proxy's certificate: a devnet CA ({@code proxy-ca.pem}, what clients trust for terminated URLs) and a
     * {@code *.<base>} leaf signed by it ({@code proxy-cert.pem} leaf then CA, {@code proxy-key.pem} 0600).
     */
    static void writeProxyCertificate(Layout l, Instant now) throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair ca = g.generateKeyPair();
            KeyPair leaf = g.generateKeyPair();
            X500Name caName = new X500Name("CN=atlas devnet proxy CA, O=atlas dev");
            Date nb = Date.from(now.minus(Duration.ofMinutes(5)));
            Date na = Date.from(now.plus(Duration.ofDays(365)));
            JcaX509v3CertificateBuilder cb = new JcaX509v3CertificateBuilder(caName, serial(), nb, na, caName,
                    ca.getPublic());
            cb.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            cb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            X509Certificate caCert = new JcaX509CertificateConverter().getCertificate(cb.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(ca.getPrivate())));
            JcaX509v3CertificateBuilder lb = new JcaX509v3CertificateBuilder(caName, serial(), nb, na,
                    new X500Name("CN=*." + l.baseDomain()), leaf.getPublic());
            lb.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            lb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            lb.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            lb.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "*." + l.baseDomain()),
                new GeneralName(GeneralName.dNSName, l.baseDomain())}));
            X509Certificate leafCert = new JcaX509CertificateConverter().getCertificate(lb.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(ca.getPrivate())));
            Files.createDirectories(l.gatewayCerts());
            write(l.proxyCa(), pem("CERTIFICATE", caCert.getEncoded()));
            write(l.proxyCert(), pem("CERTIFICATE", leafCert.getEncoded()) + pem("CERTIFICATE", caCert.getEncoded()));
            writeSecret(l.proxyKey(), pem("PRIVATE KEY", leaf.getPrivate().getEncoded()));
        } catch (GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IOException("cannot make the proxy certificate: " + e.getMessage(), e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(64, new SecureRandom()).setBit(63);
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    // ---- files --------------------------------------------------------------------------------------------------

    /** Writes through a temporary file and an atomic rename. */
    static void write(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** As {@link #write}, mode 0600 from the start. */
    static void writeSecret(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(Set.of(
                java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                java.nio.file.attribute.PosixFilePermission.OWNER_WRITE)));
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The app id of a compose (VMM without an explicit app id): the compose hash's first 20 bytes. */
    static String appIdOf(String compose) {
        return HEX.formatHex(Arrays.copyOf(sha256(compose.getBytes(StandardCharsets.UTF_8)), 20));
    }

    static String composeHashOf(String compose) {
        return HEX.formatHex(sha256(compose.getBytes(StandardCharsets.UTF_8)));
    }

    /** The demo app's compose: python on the VM address's ports 80 and 8080, {@code atlas server} on 443. */
    static String demoCompose(String name, Path launcher) {
        String py = """
                import http.server, os, sys, threading
                class H(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"
                    def do_GET(self):
                        b = ("hello from %s (%%s, port %%d)\\n" %% (self.path, self.server.server_port)).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "text/plain")
                        self.send_header("Content-Length", str(len(b)))
                        self.end_headers()
                        self.wfile.write(b)
                    def log_message(self, *a):
                        pass
                a = os.environ["DSTACK_VM_ADDRESS"]
                s = [http.server.ThreadingHTTPServer((a, p), H) for p in (80, 8080)]
                threading.Thread(target=s[0].serve_forever, daemon=True).start()
                s[1].serve_forever()
                """.formatted(name);
        String script = "cat > app.py <<'PY'\n" + py + "PY\n"
                + "/usr/bin/python3 app.py &\n"
                + "exec " + shellQuote(launcher.toString()) + " server --upstream \"http://$DSTACK_VM_ADDRESS:8080\""
                + " --listen \"$DSTACK_VM_ADDRESS:443\" --agent \"$DSTACK_SIMULATOR_ENDPOINT\"\n";
        return compose(name, script);
    }

    /** An app compose with a bash runner script, KMS and gateway enabled. */
    static String compose(String name, String bashScript) {
        ObjectNode c = JSON.createObjectNode();
        c.put("manifest_version", 2);
        c.put("name", name);
        c.put("runner", "bash");
        c.put("bash_script", bashScript);
        c.put("kms_enabled", true);
        c.put("gateway_enabled", true);
        c.put("public_logs", true);
        c.put("public_sysinfo", true);
        c.put("public_tcbinfo", true);
        return c.toPrettyString();
    }

    /** Collects what {@link #authConfig} needs, sorted for stable output. */
    static List<String> sorted(java.util.Collection<String> c) {
        List<String> l = new ArrayList<>(c);
        l.sort(null);
        return l;
    }
}
