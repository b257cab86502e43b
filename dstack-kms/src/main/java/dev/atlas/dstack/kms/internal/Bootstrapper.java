package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.ra.Secp256k1;
import dev.atlas.dstack.ra.kms.BootstrapResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.KmsKeyResponse;
import dev.atlas.dstack.ra.kms.KmsKeys;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Gives a KMS its root keys, once: {@link #bootstrap} generates them (§2.9), {@link #autoBootstrap} does the same
 * for {@code core.onboard.auto_bootstrap_domain} (§2.1; no {@code bootstrap-info.json} on that path), and
 * {@link #onboard} fetches them from an existing KMS (§2.10). The three are serialized by one lock, and each
 * refuses when {@code core.cert_dir} already holds keys. Upstream: {@code kms/src/onboard_service.rs}
 * ({@code bootstrap}, {@code onboard}, {@code Keys::onboard}, {@code bootstrap_keys}, {@code attest_keys}) and
 * {@code kms/src/main_service/upgrade_authority.rs} ({@code ensure_self_kms_allowed}, {@code ensure_kms_allowed}).
 *
 * <p>Error texts are dstack's, with upstream's {@code anyhow} context chain flattened as its pRPC layer does
 * ({@code {:#}}: {@code "outer: inner"}); {@link AttestationException#detail()} is what the caller sees.
 */
public final class Bootstrapper {
    /** The report-data prefix of the bootstrap key attestation, typo included (it is part of the format). */
    public static final String KEYS_ATTESTATION_TAG = "dstack-kms-genereted-keys-v1:";
    /** §2.9 step 2. */
    public static final String ALREADY_BOOTSTRAPPED = "KMS has already been bootstrapped";
    /** §2.10 step 1 (upstream's text for the onboarding refusal). */
    public static final String ALREADY_ONBOARDED = "KMS has already been onboarded";
    /** §2.10 step 2. */
    public static final String NO_SOURCE_ATTESTATION = "Source KMS certificate does not contain attestation";
    /** §2.10 step 4. */
    public static final String SOURCE_NOT_ALLOWED = "Source KMS is not allowed for onboarding";
    /** The context upstream puts around every failure of the onboarding itself. */
    public static final String ONBOARD_FAILED = "Failed to onboard";

    /**
     * The authorization decisions bootstrap and onboarding need; the KMS wires them to its webhook
     * ({@link WebhookOnboardAuthority}). Both fail closed: any exception refuses.
     */
    public interface Authority {
        /**
         * Self-authorization before any key is generated: this KMS's own BootInfo (full replay) to
         * {@code bootAuth/kms}. A no-op when {@code enforce_self_authorization = false}, as upstream.
         *
         * @throws RaException whose detail is the reason, e.g. {@code "boot denied: <reason>"}
         */
        void checkSelf() throws AttestationException;

        /**
         * Verifies the source KMS's RPC-certificate attestation (quote, collateral, full replay, binding to the
         * certificate key) and asks OUR webhook's {@code bootAuth/kms} about the source's BootInfo.
         *
         * @throws AttestationException the verification's failure, or a {@code KMS_NOT_ALLOWED} whose detail is
         *     {@code "boot denied: <reason>"}
         */
        void checkSource(RaTlsCertificate sourceRpcCert) throws AttestationException;
    }

    /** How the destination reaches the source KMS (a {@link KmsClient} in production; replaceable in tests). */
    public interface SourceKms {
        /** The source's TLS server chain, captured WITHOUT chain validation. */
        List<X509Certificate> serverChain(URI sourceUrl) throws IOException;

        /** {@code GetKmsKey{vm_config}} over mTLS with an RA-TLS client certificate of this CVM. */
        KmsKeyResponse getKmsKey(URI sourceUrl, String vmConfig)
                throws IOException, PrpcRemoteException, AttestationException;
    }

    private final KeyStore store;
    private final SelfAgent agent;
    private final boolean attestRpcCert;
    private final Authority authority;
    private final SourceKms source;
    private final SecureRandom random;
    private final ReentrantLock lock = new ReentrantLock();

    public Bootstrapper(KeyStore store, SelfAgent agent, boolean attestRpcCert, Authority authority, SourceKms source,
            SecureRandom random) {
        this.store = Objects.requireNonNull(store, "store");
        this.agent = Objects.requireNonNull(agent, "agent");
        this.attestRpcCert = attestRpcCert;
        this.authority = Objects.requireNonNull(authority, "authority");
        this.source = Objects.requireNonNull(source, "source");
        this.random = Objects.requireNonNull(random, "random");
    }

    /** The {@link SourceKms} of production: {@link KmsClient}s built by {@code clients} for each URL. */
    public static SourceKms sourceVia(java.time.Duration timeout, java.util.function.Function<URI, KmsClient> clients) {
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(clients, "clients");
        return new SourceKms() {
            @Override
            public List<X509Certificate> serverChain(URI sourceUrl) throws IOException {
                return KmsClient.fetchServerChain(sourceUrl, timeout);
            }

            @Override
            public KmsKeyResponse getKmsKey(URI sourceUrl, String vmConfig)
                    throws IOException, PrpcRemoteException, AttestationException {
                return clients.apply(sourceUrl).getKmsKey(vmConfig);
            }
        };
    }

    /**
     * {@code Onboard.Bootstrap} (§2.9): refuses when {@code bootstrap-info.json}, {@code root-ca.key} or
     * {@code root-k256.key} exists; self-authorization before any key exists; new random keys; the key
     * attestation; every file written (through {@link KeyStore#install}), {@code bootstrap-info.json} included.
     *
     * @return the new state; its {@link KmsState#bootstrapInfo()} is the {@code BootstrapResponse}
     */
    public KmsState bootstrap(String domain) throws AttestationException {
        Domains.validate(domain);
        lock.lock();
        try {
            if (Files.exists(store.certDir().resolve(KmsFiles.BOOTSTRAP_INFO)) || store.hasKeyFiles()) {
                throw new RaException(Reason.KEY_STATE, ALREADY_BOOTSTRAPPED);
            }
            checkSelf("KMS is not allowed to bootstrap");
            RootKeys keys = generate();
            BootstrapResponse info = attestKeys(keys);
            return store.install(keys, domain, agent, attestRpcCert, Optional.of(info));
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code core.onboard.auto_bootstrap_domain} (§2.1 step 1): as {@link #bootstrap} without the key attestation
     * and without {@code bootstrap-info.json}, as upstream's {@code bootstrap_keys}.
     */
    public KmsState autoBootstrap(String domain) throws AttestationException {
        Domains.validate(domain);
        lock.lock();
        try {
            if (store.hasKeyFiles()) {
                throw new RaException(Reason.KEY_STATE, ALREADY_BOOTSTRAPPED);
            }
            checkSelf("KMS is not allowed to auto-bootstrap");
            return store.install(generate(), domain, agent, attestRpcCert, Optional.empty());
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code Onboard.Onboard} (§2.10) from {@code sourceUrl} (normalised: trailing {@code /} removed,
     * {@code /prpc} appended when missing).
     *
     * @return the new state (same root keys as the source, new CA certificates, new RPC key)
     */
    public KmsState onboard(URI sourceUrl, String domain) throws AttestationException {
        Objects.requireNonNull(sourceUrl, "sourceUrl");
        Domains.validate(domain);
        lock.lock();
        try {
            if (store.hasKeyFiles()) {
                throw new RaException(Reason.KEY_STATE, ALREADY_ONBOARDED);
            }
            URI url = KmsClient.normalizeUrl(sourceUrl);
            RaTlsCertificate sourceCert = sourceCertificate(url);
            try {
                authority.checkSource(sourceCert);
            } catch (AttestationException e) {
                throw rewrap(e, ONBOARD_FAILED + ": " + SOURCE_NOT_ALLOWED + ": " + e.detail());
            }
            String vmConfig = agent.vmConfig();
            KmsKeyResponse response;
            try {
                response = source.getKmsKey(url, vmConfig);
            } catch (PrpcRemoteException e) {
                // The source refused (its self-authorization, our attestation, its webhook): its text, verbatim.
                throw new RaException(Reason.KMS_NOT_ALLOWED, null, ONBOARD_FAILED + ": " + e.remoteError(), e);
            } catch (IOException e) {
                throw new RaException(Reason.KMS_UNAVAILABLE, null, ONBOARD_FAILED + ": GetKmsKey from the source KMS "
                        + url + " failed: " + e.getMessage(), e);
            } catch (AttestationException e) {
                throw rewrap(e, ONBOARD_FAILED + ": GetKmsKey from the source KMS " + url + ": " + e.detail());
            }
            return store.install(parse(response), domain, agent, attestRpcCert, Optional.empty());
        } finally {
            lock.unlock();
        }
    }

    /** Whether the files of §2.9 step 2 say this KMS has keys. */
    public boolean hasKeys() {
        return store.hasKeyFiles();
    }

    /**
     * {@code Keccak256("dstack-kms-genereted-keys-v1:" ‖ hex(ca_spki_der) ‖ ";" ‖ hex(k256_pub_compressed) ‖ ";")}
     * followed by 32 zero bytes: the report data of the bootstrap attestation (lowercase hex, upstream
     * {@code attest_keys} with {@code hex::encode} and {@code pad64}).
     */
    public static byte[] keysReportData(byte[] caSpkiDer, byte[] k256PubCompressed) {
        String content = KEYS_ATTESTATION_TAG + HexFormat.of().formatHex(caSpkiDer) + ";"
                + HexFormat.of().formatHex(k256PubCompressed) + ";";
        return Arrays.copyOf(Secp256k1.keccak256(content.getBytes(StandardCharsets.US_ASCII)), 64);
    }

    private void checkSelf(String context) throws AttestationException {
        try {
            authority.checkSelf();
        } catch (AttestationException e) {
            throw rewrap(e, context + ": " + e.detail());
        }
    }

    private RaTlsCertificate sourceCertificate(URI url) throws AttestationException {
        List<X509Certificate> chain;
        try {
            chain = source.serverChain(url);
        } catch (IOException e) {
            throw new RaException(Reason.KMS_UNAVAILABLE, null, ONBOARD_FAILED + ": cannot reach the source KMS " + url
                    + ": " + e.getMessage(), e);
        }
        if (chain == null || chain.isEmpty()) {
            throw new RaException(Reason.ATTESTATION_MISSING,
                    ONBOARD_FAILED + ": Source KMS did not present a TLS certificate");
        }
        RaTlsCertificate cert;
        try {
            cert = RaTlsCertificate.parse(chain.get(0));
        } catch (RaException e) {
            throw rewrap(e, ONBOARD_FAILED + ": Source KMS certificate: " + e.detail());
        }
        if (cert.attestation().isEmpty()) {
            throw new RaException(Reason.ATTESTATION_MISSING, ONBOARD_FAILED + ": " + NO_SOURCE_ATTESTATION);
        }
        return cert;
    }

    private RootKeys parse(KmsKeyResponse response) throws RaException {
        if (response.keys().size() != 1) {
            throw new RaException(Reason.KEY_STATE, ONBOARD_FAILED + ": Invalid keys (expected exactly one key set, got "
                    + response.keys().size() + ")");
        }
        KmsKeys set = response.keys().get(0);
        P256PrivateKey ca = parseP256(set.caKey(), "Failed to parse CA key");
        P256PrivateKey tmp = parseP256(response.tempCaKey(), "Failed to parse tmp CA key");
        byte[] k = set.k256Key();
        try {
            return new RootKeys(ca, K256PrivateKey.fromScalar(k), tmp);
        } catch (RaException e) {
            throw new RaException(Reason.KEY_STATE, ONBOARD_FAILED + ": Failed to parse ECDSA key: " + e.raReason());
        } finally {
            Arrays.fill(k, (byte) 0);
        }
    }

    private static P256PrivateKey parseP256(String pem, String context) throws RaException {
        try {
            return P256PrivateKey.fromPem(pem);
        } catch (RaException e) {
            // The reason only: the decoder's detail could quote the key material.
            throw new RaException(Reason.KEY_STATE, ONBOARD_FAILED + ": " + context + ": " + e.raReason());
        }
    }

    private RootKeys generate() throws RaException {
        return new RootKeys(randomP256(), randomK256(), randomP256());
    }

    private BootstrapResponse attestKeys(RootKeys keys) throws RaException {
        byte[] caSpki = keys.rootCaKey().spki();
        byte[] k256 = keys.rootK256Key().publicKey();
        byte[] attestation = agent.attest(keysReportData(caSpki, k256));
        return new BootstrapResponse(caSpki, k256, attestation);
    }

    private P256PrivateKey randomP256() throws RaException {
        byte[] s = new byte[32];
        try {
            for (int i = 0; i < 64; i++) {
                random.nextBytes(s);
                try {
                    return P256PrivateKey.fromScalar(s);
                } catch (RaException e) {
                    if (e.raReason() != Reason.KEY_OUT_OF_RANGE) {
                        throw e;
                    }
                }
            }
        } finally {
            Arrays.fill(s, (byte) 0);
        }
        throw new RaException(Reason.KEY_STATE, "the random source gave no P-256 scalar in range in 64 draws");
    }

    private K256PrivateKey randomK256() throws RaException {
        byte[] s = new byte[32];
        try {
            for (int i = 0; i < 64; i++) {
                random.nextBytes(s);
                try {
                    return K256PrivateKey.fromScalar(s);
                } catch (RaException e) {
                    if (e.raReason() != Reason.KEY_OUT_OF_RANGE) {
                        throw e;
                    }
                }
            }
        } finally {
            Arrays.fill(s, (byte) 0);
        }
        throw new RaException(Reason.KEY_STATE, "the random source gave no secp256k1 scalar in range in 64 draws");
    }

    /** The same failure with upstream's context in front (an RaException keeps its fine reason). */
    private static AttestationException rewrap(AttestationException e, String detail) {
        if (e instanceof RaException ra) {
            return new RaException(ra.raReason(), null, detail, e);
        }
        return new AttestationException(e.reason(), detail, e);
    }
}
