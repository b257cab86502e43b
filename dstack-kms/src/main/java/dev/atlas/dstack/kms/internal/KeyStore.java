package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.kms.KmsFiles;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.kms.BootstrapResponse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/** {@code core.cert_dir}: the state files of §2.1, keys mode 0600, atomic writes. */
public final class KeyStore {
    private final Path certDir;
    private final Clock clock;

    public KeyStore(Path certDir, Clock clock) {
        this.certDir = Objects.requireNonNull(certDir, "certDir");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public Path certDir() {
        return certDir;
    }

    /** {@code root-ca.key} or {@code root-k256.key} exists (§2.10 step 1). */
    public boolean hasKeyFiles() {
        return Files.exists(certDir.resolve(KmsFiles.ROOT_CA_KEY)) || Files.exists(certDir.resolve(KmsFiles.ROOT_K256_KEY));
    }

    /** The key files and {@code bootstrap-info.json} exist (§2.9 step 2). */
    public boolean isBootstrapped() {
        return hasKeyFiles() && Files.exists(certDir.resolve(KmsFiles.BOOTSTRAP_INFO));
    }

    public Optional<KmsState> load() throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** New CA certificates and RPC certificate for {@code keys}; writes every file. */
    public KmsState install(RootKeys keys, String domain, SelfAgent agent, boolean attestRpcCert,
            Optional<BootstrapResponse> bootstrapInfo) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** At start: CA certificates rewritten only if expiring within 365 days; a fresh RPC certificate always. */
    public KmsState updateCerts(SelfAgent agent, boolean attestRpcCert) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
