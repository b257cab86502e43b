package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.prpc.PrpcException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * {@code core.cert_dir}: the state files of §2.1 with dstack's names ({@link KmsFiles}) and formats (certificates
 * PEM, P-256 keys PKCS#8 PEM, {@code root-k256.key} 32 raw bytes, {@code rpc-domain} text,
 * {@code bootstrap-info.json} the pRPC JSON of {@code BootstrapResponse}). Keys are written with mode 0600, the
 * rest 0644; every write is a temporary file in the same directory, synced, then renamed over the old one.
 *
 * <p>The certificates are made as upstream's {@code Keys::from_keys} ({@code kms/src/onboard_service.rs}): temp CA
 * {@code O=Dstack, CN=Dstack Client Temp CA} (CA, path length 0) and root CA {@code O=Dstack, CN=Dstack KMS CA}
 * (CA, path length 1), both self-signed; the RPC certificate {@code CN=<domain>}, SAN {@code <domain>}, usage
 * {@code kms:rpc}, the KMS's own attestation bound to the RPC key when {@code attest_rpc_cert}, signed by the root
 * CA; each valid from 1975-01-01 (rcgen's default) to now + 3650 days. Time comes from the injected clock.
 * Not thread-safe: the KMS calls it from its start-up and its one-at-a-time onboarding paths.
 */
public final class KeyStore {
    /** dstack's CA renewal window ({@code CA_RENEWAL_WINDOW}). */
    public static final Duration CA_RENEWAL_WINDOW = Duration.ofDays(365);
    /** Size limit of a key file or {@code rpc-domain}. */
    static final int MAX_SMALL_FILE = 64 * 1024;
    /** Size limit of a certificate or {@code bootstrap-info.json} (an RPC certificate holds an attestation). */
    static final int MAX_LARGE_FILE = 16 << 20;
    /** Longest DNS name. */
    static final int MAX_DOMAIN = 253;

    private static final Set<PosixFilePermission> KEY_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> PUBLIC_MODE = PosixFilePermissions.fromString("rw-r--r--");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path certDir;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    public KeyStore(Path certDir, Clock clock) {
        this.certDir = Objects.requireNonNull(certDir, "certDir");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public Path certDir() {
        return certDir;
    }

    public Clock clock() {
        return clock;
    }

    /** The path of one state file ({@link KmsFiles}). */
    public Path file(String name) {
        return certDir.resolve(name);
    }

    /** {@code root-ca.key} or {@code root-k256.key} exists (§2.10 step 1). */
    public boolean hasKeyFiles() {
        return Files.exists(file(KmsFiles.ROOT_CA_KEY)) || Files.exists(file(KmsFiles.ROOT_K256_KEY));
    }

    /** The key files and {@code bootstrap-info.json} exist (§2.9 step 2). */
    public boolean isBootstrapped() {
        return hasKeyFiles() && Files.exists(file(KmsFiles.BOOTSTRAP_INFO));
    }

    /**
     * All seven files dstack's start-up checks ({@code keys_exists}): both CA certificates and keys, the RPC
     * certificate and key, and {@code root-k256.key}. When they are not all there and onboarding is enabled, the
     * KMS runs its onboard service first.
     */
    public boolean keysComplete() {
        for (String n : List.of(KmsFiles.TEMP_CA_CERT, KmsFiles.TEMP_CA_KEY, KmsFiles.ROOT_CA_CERT,
                KmsFiles.ROOT_CA_KEY, KmsFiles.RPC_CERT, KmsFiles.RPC_KEY, KmsFiles.ROOT_K256_KEY)) {
            if (!Files.exists(file(n))) {
                return false;
            }
        }
        return true;
    }

    /** Fresh root keys (bootstrap). */
    public RootKeys generateRootKeys() {
        return new RootKeys(KmsKeys.newP256(random), KmsKeys.newK256(random), KmsKeys.newP256(random));
    }

    /**
     * Reads every state file.
     *
     * @return empty when neither root key file exists
     * @throws RaException {@code CONFIG_FILE_UNREADABLE} naming the file when one is missing, unreadable or malformed
     */
    public Optional<KmsState> load() throws RaException {
        if (!hasKeyFiles()) {
            return Optional.empty();
        }
        RootKeys keys = readRootKeys();
        P256PrivateKey rpcKey = readP256(KmsFiles.RPC_KEY);
        return Optional.of(new KmsState(keys, readCert(KmsFiles.ROOT_CA_CERT), readCert(KmsFiles.TEMP_CA_CERT),
                readCert(KmsFiles.RPC_CERT), rpcKey, readDomain(), readBootstrapInfo()));
    }

    /** {@code root-ca.key}, {@code root-k256.key} and {@code tmp-ca.key}. */
    public RootKeys readRootKeys() throws RaException {
        P256PrivateKey ca = readP256(KmsFiles.ROOT_CA_KEY);
        byte[] k = read(KmsFiles.ROOT_K256_KEY, MAX_SMALL_FILE);
        K256PrivateKey k256;
        try {
            if (k.length != 32) {
                throw unreadable(KmsFiles.ROOT_K256_KEY, "must hold 32 raw bytes, has " + k.length);
            }
            k256 = K256PrivateKey.fromScalar(k);
        } catch (RaException e) {
            if (e.raReason() == Reason.CONFIG_FILE_UNREADABLE) {
                throw e;
            }
            throw unreadable(KmsFiles.ROOT_K256_KEY, "is not a secp256k1 private key");
        } finally {
            Arrays.fill(k, (byte) 0);
        }
        return new RootKeys(ca, k256, readP256(KmsFiles.TEMP_CA_KEY));
    }

    /**
     * Makes the CA certificates and a fresh RPC key and certificate for {@code keys}, and writes every file
     * (bootstrap and onboarding). The root key files and {@code bootstrap-info.json}, whose presence means "this
     * KMS has keys", are written last, so an interrupted install can be retried.
     *
     * @throws RaException {@code KEY_STATE} when the directory already holds root keys; {@code AGENT_UNAVAILABLE}
     *         when {@code attestRpcCert} and the guest agent fails; {@code CONFIG_FILE_UNREADABLE} when a file
     *         cannot be written
     */
    public KmsState install(RootKeys keys, String domain, SelfAgent agent, boolean attestRpcCert,
            Optional<BootstrapResponse> bootstrapInfo) throws RaException {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(bootstrapInfo, "bootstrapInfo");
        checkDomain(domain);
        if (hasKeyFiles()) {
            throw new RaException(Reason.KEY_STATE, certDir.toString(), "already holds root keys ("
                    + KmsFiles.ROOT_CA_KEY + " or " + KmsFiles.ROOT_K256_KEY + ")");
        }
        Certs c = makeCerts(keys, KmsKeys.newP256(random), domain, agent, attestRpcCert);
        writeKey(KmsFiles.TEMP_CA_KEY, keys.tempCaKey().toPem().getBytes(StandardCharsets.US_ASCII));
        writeKey(KmsFiles.RPC_KEY, c.rpcKey.toPem().getBytes(StandardCharsets.US_ASCII));
        writePublic(KmsFiles.TEMP_CA_CERT, RaTlsCertificate.pem(c.tempCa).getBytes(StandardCharsets.US_ASCII));
        writePublic(KmsFiles.ROOT_CA_CERT, RaTlsCertificate.pem(c.rootCa).getBytes(StandardCharsets.US_ASCII));
        writePublic(KmsFiles.RPC_CERT, RaTlsCertificate.pem(c.rpc).getBytes(StandardCharsets.US_ASCII));
        writePublic(KmsFiles.RPC_DOMAIN, domain.getBytes(StandardCharsets.UTF_8));
        writeKey(KmsFiles.ROOT_CA_KEY, keys.rootCaKey().toPem().getBytes(StandardCharsets.US_ASCII));
        byte[] k = keys.rootK256Key().scalar();
        try {
            writeKey(KmsFiles.ROOT_K256_KEY, k);
        } finally {
            Arrays.fill(k, (byte) 0);
        }
        if (bootstrapInfo.isPresent()) {
            writePublic(KmsFiles.BOOTSTRAP_INFO, bootstrapInfo.get().toJson().toString()
                    .getBytes(StandardCharsets.UTF_8));
        }
        return new KmsState(keys, c.rootCa, c.tempCa, c.rpc, c.rpcKey, domain, bootstrapInfo);
    }

    /** {@link #updateCerts(SelfAgent, boolean, Optional)} with the domain of {@code rpc-domain}. */
    public KmsState updateCerts(SelfAgent agent, boolean attestRpcCert) throws RaException {
        return updateCerts(agent, attestRpcCert, Optional.empty());
    }

    /**
     * dstack's start-up {@code update_certs}: re-makes both CA certificates from the stored keys but writes each
     * only when the stored one expires within {@link #CA_RENEWAL_WINDOW} (not after ≤ now + 365 days), and always
     * writes a new RPC certificate for the stored RPC key with a fresh attestation.
     *
     * @param domainOverride {@code core.onboard.auto_bootstrap_domain} when not empty (upstream takes it over
     *        {@code rpc-domain})
     * @throws RaException {@code CONFIG_FILE_UNREADABLE} for a missing or malformed file, {@code AGENT_UNAVAILABLE}
     *         when the attestation cannot be had
     */
    public KmsState updateCerts(SelfAgent agent, boolean attestRpcCert, Optional<String> domainOverride)
            throws RaException {
        RootKeys keys = readRootKeys();
        P256PrivateKey rpcKey = readP256(KmsFiles.RPC_KEY);
        String domain = domainOverride.filter(d -> !d.isEmpty()).orElse(null);
        if (domain == null) {
            domain = readDomain();
        }
        checkDomain(domain);
        Certs fresh = makeCerts(keys, rpcKey, domain, agent, attestRpcCert);
        X509Certificate rootCa = renewIfExpiring(KmsFiles.ROOT_CA_CERT, fresh.rootCa);
        X509Certificate tempCa = renewIfExpiring(KmsFiles.TEMP_CA_CERT, fresh.tempCa);
        writePublic(KmsFiles.RPC_CERT, RaTlsCertificate.pem(fresh.rpc).getBytes(StandardCharsets.US_ASCII));
        return new KmsState(keys, rootCa, tempCa, fresh.rpc, rpcKey, domain, readBootstrapInfo());
    }

    /** Whether {@code cert} expires within {@code window} of {@code now} (dstack: not_after ≤ now + window). */
    public static boolean expiresWithin(X509Certificate cert, Instant now, Duration window) {
        Instant notAfter = cert.getNotAfter().toInstant();
        return !notAfter.isAfter(now.plus(window));
    }

    private X509Certificate renewIfExpiring(String name, X509Certificate renewed) throws RaException {
        X509Certificate current = readCert(name);
        if (!expiresWithin(current, clock.instant(), CA_RENEWAL_WINDOW)) {
            return current;
        }
        writePublic(name, RaTlsCertificate.pem(renewed).getBytes(StandardCharsets.US_ASCII));
        return renewed;
    }

    private record Certs(X509Certificate tempCa, X509Certificate rootCa, X509Certificate rpc, P256PrivateKey rpcKey) {
    }

    private Certs makeCerts(RootKeys keys, P256PrivateKey rpcKey, String domain, SelfAgent agent,
            boolean attestRpcCert) throws RaException {
        X509Certificate tempCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack Client Temp CA")
                .caLevel(0).clock(clock).selfSigned(keys.tempCaKey().toKeyPair());
        X509Certificate rootCa = RaTlsCertificate.builder().organization("Dstack").subject("Dstack KMS CA")
                .caLevel(1).clock(clock).selfSigned(keys.rootCaKey().toKeyPair());
        byte[] attestation = null;
        if (attestRpcCert) {
            Objects.requireNonNull(agent, "agent");
            try {
                attestation = agent.attest(RaTlsCertificate.reportData(rpcKey.toPublicKey()));
            } catch (RaException e) {
                throw new RaException(Reason.AGENT_UNAVAILABLE, "core.attest_rpc_cert", "cannot get an attestation "
                        + "for the KMS RPC certificate from " + agent.describe() + " (the KMS attests itself through "
                        + "its guest agent, so it must run in a dstack CVM; set core.attest_rpc_cert = false for "
                        + "development only): " + e.detail(), e);
            }
        }
        X509Certificate rpc = RaTlsCertificate.builder().subject(domain).altNames(List.of(domain))
                .usage(RaTlsCertificate.USAGE_KMS_RPC).attestation(attestation).publicKey(rpcKey.toPublicKey())
                .clock(clock).signedBy(rootCa, keys.rootCaKey().toPrivateKey());
        return new Certs(tempCa, rootCa, rpc, rpcKey);
    }

    private static void checkDomain(String domain) throws RaException {
        if (domain == null || domain.isEmpty() || domain.length() > MAX_DOMAIN
                || domain.chars().anyMatch(ch -> ch <= 0x20 || ch >= 0x7f)) {
            throw new RaException(Reason.INVALID_ARGUMENT, KmsFiles.RPC_DOMAIN, "domain must be a non-empty ASCII "
                    + "DNS name of at most " + MAX_DOMAIN + " bytes");
        }
    }

    // ---- reading ---------------------------------------------------------------------------------------------

    private RaException unreadable(String name, String what) {
        return new RaException(Reason.CONFIG_FILE_UNREADABLE, file(name).toString(), what);
    }

    private byte[] read(String name, int limit) throws RaException {
        Path p = file(name);
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(limit + 1);
            if (b.length > limit) {
                Arrays.fill(b, (byte) 0);
                throw unreadable(name, "larger than " + limit + " bytes");
            }
            return b;
        } catch (NoSuchFileException e) {
            throw unreadable(name, "is missing");
        } catch (IOException e) {
            throw unreadable(name, "cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }

    private P256PrivateKey readP256(String name) throws RaException {
        byte[] b = read(name, MAX_SMALL_FILE);
        String pem = new String(b, StandardCharsets.US_ASCII);
        Arrays.fill(b, (byte) 0);
        if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
            throw unreadable(name, "is not a PKCS#8 PEM private key");
        }
        try {
            return P256PrivateKey.fromPem(pem.strip());
        } catch (RaException e) {
            throw unreadable(name, "is not a P-256 PKCS#8 PEM private key");
        }
    }

    private X509Certificate readCert(String name) throws RaException {
        String pem = new String(read(name, MAX_LARGE_FILE), StandardCharsets.US_ASCII);
        try {
            return KmsKeys.parseCertsPem(pem, name).get(0);
        } catch (RaException e) {
            throw unreadable(name, "is not a PEM certificate");
        }
    }

    private String readDomain() throws RaException {
        byte[] b = read(KmsFiles.RPC_DOMAIN, MAX_SMALL_FILE);
        String d = new String(b, StandardCharsets.UTF_8).strip();
        if (d.isEmpty()) {
            throw unreadable(KmsFiles.RPC_DOMAIN, "is empty");
        }
        return d;
    }

    /** {@code bootstrap-info.json} when present. */
    public Optional<BootstrapResponse> readBootstrapInfo() throws RaException {
        if (!Files.exists(file(KmsFiles.BOOTSTRAP_INFO))) {
            return Optional.empty();
        }
        byte[] b = read(KmsFiles.BOOTSTRAP_INFO, MAX_LARGE_FILE);
        try {
            JsonNode n = JSON.readTree(b);
            return Optional.of(BootstrapResponse.fromJson(n));
        } catch (IOException | PrpcException | IllegalArgumentException e) {
            throw unreadable(KmsFiles.BOOTSTRAP_INFO, "is not a BootstrapResponse JSON");
        }
    }

    // ---- writing ---------------------------------------------------------------------------------------------

    /** Writes a key file: mode 0600, atomically. */
    public void writeKey(String name, byte[] content) throws RaException {
        write(name, content, KEY_MODE);
    }

    /** Writes a public file (certificate, domain, bootstrap info): mode 0644, atomically. */
    public void writePublic(String name, byte[] content) throws RaException {
        write(name, content, PUBLIC_MODE);
    }

    private void write(String name, byte[] content, Set<PosixFilePermission> mode) throws RaException {
        Path target = file(name);
        Path tmp = null;
        try {
            boolean posix = Files.getFileStore(certDir).supportsFileAttributeView("posix");
            for (int i = 0; tmp == null; i++) {
                Path candidate = certDir.resolve("." + name + ".tmp-" + HexFormat.of().toHexDigits(random.nextInt()));
                try {
                    tmp = posix ? Files.createFile(candidate, PosixFilePermissions.asFileAttribute(KEY_MODE))
                            : Files.createFile(candidate);
                } catch (FileAlreadyExistsException e) {
                    if (i > 8) {
                        throw e;
                    }
                }
            }
            if (posix) {
                Files.setPosixFilePermissions(tmp, mode);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(content);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            syncDirectory();
        } catch (IOException e) {
            throw new RaException(Reason.CONFIG_FILE_UNREADABLE, target.toString(), "cannot be written ("
                    + e.getClass().getSimpleName() + ")");
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    private void syncDirectory() {
        try (FileChannel dir = FileChannel.open(certDir, StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not every platform can sync a directory; the rename itself is atomic
        }
    }
}
