package dev.atlas.dstack.kms;

import dev.atlas.dstack.ra.RaException;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * dstack's {@code kms.toml}, read unchanged ({@code ../shared/specs/dstack-platform.md} §2.2; defaults as upstream
 * {@code kms/src/config.rs}). Build it with {@link #load(Path)}.
 */
public record KmsConfig(
        Path source,
        Path certDir,
        String subjectPostfix,
        String siteName,
        boolean enforceSelfAuthorization,
        boolean attestRpcCert,
        boolean sevSnpKeyRelease,
        boolean awsNitroTpmKeyRelease,
        boolean insecureAllowExternalTrustAnchors,
        Optional<Path> tdxRootCa,
        String pccsUrl,
        String amdKdsUrl,
        boolean imageVerify,
        Path imageCacheDir,
        String imageDownloadUrl,
        Duration imageDownloadTimeout,
        String authApiType,
        Optional<URI> webhookUrl,
        String devGatewayAppId,
        boolean onboardEnabled,
        String autoBootstrapDomain,
        InetSocketAddress onboardAddress,
        InetSocketAddress rpcAddress,
        boolean metricsEnabled,
        boolean adminEnabled,
        InetSocketAddress adminAddress,
        Optional<String> adminAuthToken,
        Optional<Path> adminHtpasswdFile,
        boolean adminInsecureNoAuth,
        List<String> warnings) {

    /** Reads and checks {@code kmsToml}; {@code CONFIG_*} reasons, the message names the file and the key. */
    public static KmsConfig load(Path kmsToml) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
