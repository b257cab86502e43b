package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.CertConfig;
import dev.atlas.dstack.ra.CertSigningRequest;
import dev.atlas.dstack.ra.P256PrivateKey;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaTlsCertificate;
import dev.atlas.dstack.simulator.AppKeys;
import dev.atlas.dstack.simulator.CertSigner;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * RA-TLS certificates of the simulated agent, with dstack-ra's {@link RaTlsCertificate} and
 * {@link CertSigningRequest}: the self-signed app CA of a seed ({@code make_app_keys} of
 * {@code dstack-util/src/main.rs}), the local CA signer ({@code CaCert::sign_csr} of {@code ra-tls/src/cert.rs},
 * as {@code cert-client/src/lib.rs} uses it) and the CSR issuer ({@code issue_cert} of {@code rpc_service.rs}).
 */
public final class Tls {
    private Tls() {
    }

    /** A self-signed app CA ({@code CN=App Root Cert}, CA level 1) with an attestation bound to its key, as PEM. */
    public static String selfSignedAppCa(P256PrivateKey caKey, Platform platform, Clock clock) throws RaException {
        byte[] attestation = platform.certificateAttestation(caKey.spki()).encode();
        X509Certificate cert = RaTlsCertificate.builder().subject("App Root Cert").caLevel(1).attestation(attestation)
                .clock(clock).selfSigned(caKey.toKeyPair());
        return RaTlsCertificate.pem(cert);
    }

    /**
     * The local CA of {@code appkeys.json} (key provider {@code None}, {@code Local} or {@code Tpm}: the CA key is
     * {@code key_provider.<variant>.key}, the certificate {@code ca_cert}); null for {@code Kms}, whose signing
     * comes in a later issue.
     *
     * @throws RaException when the certificate or key does not parse, or they do not belong together
     */
    public static CertSigner localCa(AppKeys keys, Platform platform, Clock clock) throws RaException {
        String keyPem = keys.keyProvider().caKeyPem();
        if (keyPem == null) {
            return null;
        }
        X509Certificate ca = certificate(keys.caCert());
        P256PrivateKey caKey = P256PrivateKey.fromPem(keyPem);
        if (!Arrays.equals(ca.getPublicKey().getEncoded(), caKey.spki())) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "ca_cert",
                    "its public key is not the key of key_provider." + keys.keyProvider().variant() + ".key");
        }
        PrivateKey caPrivate = caKey.toPrivateKey();
        String caPem = keys.caCert();
        return (csrBytes, signature) -> {
            CertSigningRequest csr = CertSigningRequest.decode(csrBytes, 2);
            csr.verifySignature(signature);
            // a u64 above Long.MAX_VALUE arrives negative: refuse it before the builder reads it as a time
            instant(csr.config().notBefore(), "not_before");
            instant(csr.config().notAfter(), "not_after");
            RaTlsCertificate.Builder b = RaTlsCertificate.builder().fromCsr(csr)
                    .usage(RaTlsCertificate.USAGE_APP_CUSTOM).clock(clock); // no app id: upstream passes None
            X509Certificate leaf;
            try {
                leaf = b.signedBy(ca, caPrivate);
            } catch (IllegalArgumentException e) {
                throw new RaException(RaException.Reason.INVALID_ARGUMENT, "csr.config", e.getMessage());
            }
            return List.of(RaTlsCertificate.pem(leaf), caPem);
        };
    }

    private static Instant instant(OptionalLong unixSeconds, String field) throws RaException {
        if (unixSeconds.isEmpty()) {
            return null;
        }
        long s = unixSeconds.getAsLong();
        // X.509 times end at 9999-12-31; a u64 beyond Long.MAX_VALUE is negative here
        if (s < 0 || s > 253402300799L) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, field,
                    "outside the X.509 time range: " + Long.toUnsignedString(s));
        }
        try {
            return Instant.ofEpochSecond(s);
        } catch (DateTimeException e) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, field, "not a time");
        }
    }

    /** {@code issue_cert}: a CSR V2 with the key's certificate attestation, signed with the key, then by {@code signer}. */
    public static CertIssuer issuer(Platform platform, CertSigner signer) {
        return (key, req) -> {
            byte[] attestation = platform.certificateAttestation(key.spki()).encode();
            CertConfig cfg = CertConfig.builder().subject(req.subject()).subjectAltNames(req.altNames())
                    .usageServerAuth(req.serverAuth()).usageClientAuth(req.clientAuth()).extQuote(req.extQuote())
                    .extAppInfo(req.extAppInfo()).notBefore(req.notBefore()).notAfter(req.notAfter()).build();
            CertSigningRequest csr = CertSigningRequest.create(key.toPublicKey(), cfg, attestation);
            byte[] signature = csr.sign(key.toPrivateKey());
            return signer.signCsr(csr.encode(), signature);
        };
    }

    static X509Certificate certificate(String pem) throws RaException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
        } catch (GeneralSecurityException | ClassCastException e) {
            throw new RaException(RaException.Reason.INVALID_ARGUMENT, "ca_cert", "not a PEM X.509 certificate");
        }
    }

}
