package dev.atlas.dstack.kms;

import dev.atlas.dstack.kms.internal.KmsConfigReader;
import dev.atlas.dstack.ra.RaException;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * dstack's {@code kms.toml}, read unchanged ({@code ../shared/specs/dstack-platform.md} §2.2). As dstack-kms does
 * ({@code kms/src/config.rs}, {@code load_config}), the file is laid over the shipped {@code kms.toml}, so every key
 * it leaves out has the shipped value. Build it with {@link #load(Path)} or {@link #fromToml(String, String)}.
 *
 * <p>Keys this KMS does not know or does not support are named in {@link #warnings()}; keys whose omission would
 * weaken a check are refused ({@code CONFIG_UNSUPPORTED}). See {@code docs/dstack-kms.md}, "Configuration".
 *
 * @param source the file read (messages name it)
 * @param certDir {@code core.cert_dir}: the state files of §2.1
 * @param subjectPostfix {@code core.subject_postfix}
 * @param siteName {@code core.site_name}
 * @param enforceSelfAuthorization {@code core.enforce_self_authorization}
 * @param attestRpcCert {@code core.attest_rpc_cert}
 * @param sevSnpKeyRelease {@code core.sev_snp_key_release}
 * @param awsNitroTpmKeyRelease {@code core.aws_nitro_tpm_key_release}
 * @param insecureAllowExternalTrustAnchors {@code core.attestation.insecure_allow_external_trust_anchors}
 * @param tdxRootCa {@code core.attestation.root_ca.tdx} (PEM or DER), only with the flag above
 * @param pccsUrl {@code core.attestation.urls.pccs}, {@code https://pccs.phala.network} when absent or blank
 * @param amdKdsUrl {@code core.attestation.urls.amd_kds} (not used: this KMS verifies TDX only)
 * @param imageVerify {@code core.image.verify}
 * @param imageCacheDir {@code core.image.cache_dir}
 * @param imageDownloadUrl {@code core.image.download_url} (template with {@code {OS_IMAGE_HASH}})
 * @param imageDownloadTimeout {@code core.image.download_timeout}
 * @param authApiType {@code core.auth_api.type}: {@code webhook} or {@code dev}
 * @param webhookUrl {@code core.auth_api.webhook.url} when the type is {@code webhook}
 * @param devGatewayAppId {@code core.auth_api.dev.gateway_app_id}
 * @param onboardEnabled {@code core.onboard.enabled}
 * @param autoBootstrapDomain {@code core.onboard.auto_bootstrap_domain} (empty: UI or RPC onboarding)
 * @param onboardAddress {@code core.onboard.address}/{@code port}
 * @param rpcAddress {@code rpc.address}/{@code port}
 * @param rpcTlsKey {@code rpc.tls.key}: the key the main listener serves
 * @param rpcTlsCerts {@code rpc.tls.certs}: the certificate chain the main listener serves
 * @param rpcTlsClientCaCerts {@code rpc.tls.mutual.ca_certs}: client chains must lead to these; empty: no client
 *        certificates are asked for
 * @param rpcTlsClientCertMandatory {@code rpc.tls.mutual.mandatory}
 * @param metricsEnabled {@code core.metrics.enabled}
 * @param adminEnabled {@code core.admin.enabled}
 * @param adminAddress {@code core.admin.address}/{@code port}
 * @param adminAuthToken {@code core.admin.auth_token} when not empty (the environment may still give one)
 * @param adminHtpasswdFile {@code core.admin.htpasswd_file} when not empty
 * @param adminInsecureNoAuth {@code core.admin.insecure_no_auth}
 * @param warnings keys named at start: unknown, unsupported but harmless, or insecure settings
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
        Path rpcTlsKey,
        Path rpcTlsCerts,
        Optional<Path> rpcTlsClientCaCerts,
        boolean rpcTlsClientCertMandatory,
        boolean metricsEnabled,
        boolean adminEnabled,
        InetSocketAddress adminAddress,
        Optional<String> adminAuthToken,
        Optional<Path> adminHtpasswdFile,
        boolean adminInsecureNoAuth,
        List<String> warnings) {

    /** {@code core.auth_api.type} of the webhook. */
    public static final String AUTH_WEBHOOK = "webhook";
    /** {@code core.auth_api.type} that allows everything. */
    public static final String AUTH_DEV = "dev";
    /** dstack's default PCCS ({@code dcap_qvl::collateral::PHALA_PCCS_URL}). */
    public static final String DEFAULT_PCCS_URL = "https://pccs.phala.network";

    public KmsConfig {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(certDir, "certDir");
        Objects.requireNonNull(subjectPostfix, "subjectPostfix");
        Objects.requireNonNull(siteName, "siteName");
        Objects.requireNonNull(tdxRootCa, "tdxRootCa");
        Objects.requireNonNull(pccsUrl, "pccsUrl");
        Objects.requireNonNull(amdKdsUrl, "amdKdsUrl");
        Objects.requireNonNull(imageCacheDir, "imageCacheDir");
        Objects.requireNonNull(imageDownloadUrl, "imageDownloadUrl");
        Objects.requireNonNull(imageDownloadTimeout, "imageDownloadTimeout");
        if (!AUTH_WEBHOOK.equals(authApiType) && !AUTH_DEV.equals(authApiType)) {
            throw new IllegalArgumentException("authApiType must be webhook or dev");
        }
        Objects.requireNonNull(webhookUrl, "webhookUrl");
        if (AUTH_WEBHOOK.equals(authApiType) && webhookUrl.isEmpty()) {
            throw new IllegalArgumentException("a webhook auth API needs its URL");
        }
        Objects.requireNonNull(devGatewayAppId, "devGatewayAppId");
        Objects.requireNonNull(autoBootstrapDomain, "autoBootstrapDomain");
        Objects.requireNonNull(onboardAddress, "onboardAddress");
        Objects.requireNonNull(rpcAddress, "rpcAddress");
        Objects.requireNonNull(rpcTlsKey, "rpcTlsKey");
        Objects.requireNonNull(rpcTlsCerts, "rpcTlsCerts");
        Objects.requireNonNull(rpcTlsClientCaCerts, "rpcTlsClientCaCerts");
        Objects.requireNonNull(adminAddress, "adminAddress");
        Objects.requireNonNull(adminAuthToken, "adminAuthToken");
        Objects.requireNonNull(adminHtpasswdFile, "adminHtpasswdFile");
        warnings = List.copyOf(warnings);
    }

    /**
     * Reads {@code kmsToml} (at most 1 MiB of UTF-8 TOML) over the shipped defaults and checks it.
     *
     * @throws RaException {@code CONFIG_FILE_UNREADABLE} (the file, or a trust-anchor file it names, cannot be
     *         read), {@code CONFIG_INVALID} (syntax, a wrong type, a bad value; the field is the dotted key and the
     *         message names the file) or {@code CONFIG_UNSUPPORTED} (a key this KMS cannot honour and whose omission
     *         would weaken a check)
     */
    public static KmsConfig load(Path kmsToml) throws RaException {
        return KmsConfigReader.load(kmsToml);
    }

    /** {@link #load} of a document given as text; {@code sourceName} stands for the file in messages. */
    public static KmsConfig fromToml(String toml, String sourceName) throws RaException {
        return KmsConfigReader.read(toml.getBytes(java.nio.charset.StandardCharsets.UTF_8), Path.of(sourceName));
    }

    /** Whether {@code core.auth_api.type} is {@code dev} (allows everything; reported as {@code is_dev}). */
    public boolean isDev() {
        return AUTH_DEV.equals(authApiType);
    }

    /** Same configuration with {@code core.cert_dir} replaced (tests, tools). */
    public KmsConfig withCertDir(Path dir) {
        return new KmsConfig(source, dir, subjectPostfix, siteName, enforceSelfAuthorization, attestRpcCert,
                sevSnpKeyRelease, awsNitroTpmKeyRelease, insecureAllowExternalTrustAnchors, tdxRootCa, pccsUrl,
                amdKdsUrl, imageVerify, imageCacheDir, imageDownloadUrl, imageDownloadTimeout, authApiType, webhookUrl,
                devGatewayAppId, onboardEnabled, autoBootstrapDomain, onboardAddress, rpcAddress, rpcTlsKey,
                rpcTlsCerts, rpcTlsClientCaCerts, rpcTlsClientCertMandatory, metricsEnabled, adminEnabled,
                adminAddress, adminAuthToken, adminHtpasswdFile, adminInsecureNoAuth, warnings);
    }

    /** No secret: the admin token is shown as set or not. */
    @Override
    public String toString() {
        return "KmsConfig[source=" + source + ", certDir=" + certDir + ", rpc=" + rpcAddress + ", onboard="
                + (onboardEnabled ? onboardAddress + (autoBootstrapDomain.isEmpty() ? "" : " auto " + autoBootstrapDomain)
                        : "disabled")
                + ", admin=" + (adminEnabled ? adminAddress : "disabled") + ", authApi=" + authApiType
                + webhookUrl.map(u -> " " + u).orElse("") + ", attestRpcCert=" + attestRpcCert
                + ", enforceSelfAuthorization=" + enforceSelfAuthorization + ", adminAuthToken="
                + (adminAuthToken.isPresent() ? "set" : "unset") + ", warnings=" + warnings.size() + "]";
    }
}
