package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.K256PrivateKey;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.kms.AppKeyResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.SignCertRequest;
import dev.atlas.dstack.ra.kms.TempCaCertResponse;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.dstack.simulator.AppKeys;
import dev.atlas.dstack.simulator.CertSigner;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * The app side of a booting CVM with KMS keys ({@code dstack-util/src/system_setup.rs}: {@code setup_fs},
 * {@code request_app_keys_from_kms_url}, {@code verify_app}): after {@code boot-mr-done}, {@code GetAppKey} through
 * {@link KmsClient} (temp CA, RA-TLS client certificate, checked mTLS), the KMS link of the key checked by
 * recovering its signer, then the runtime events {@code os-image-hash} (the KMS's answer), {@code key-provider}
 * ({@code {"name":"kms","id":"<hex DER SPKI of the KMS root CA key>"}}, serde's compact JSON of
 * {@code KeyProviderInfo}, the id from {@code GetTempCaCert}'s {@code ca_cert}) and {@code system-ready}.
 *
 * <p>Not recorded: {@code storage-fs} (the simulated CVM has no data disk; the RTMR3 replay does not need it).
 */
public final class KmsBoot {
    private static final HexFormat HEX = HexFormat.of();

    private KmsBoot() {
    }

    /** What the boot released and recorded. */
    public record Result(AppKeys keys, byte[] kmsK256PublicKey, CertSigner signer) {
    }

    /**
     * @param client   the KMS client, its attester the CVM's own platform
     * @param platform the platform whose RTMR3 the events extend (its log ends at {@code boot-mr-done})
     * @param appId    the 20-byte app id the KMS signs the app key over
     * @param vmConfig the CVM's vm_config, sent with {@code GetAppKey} and {@code SignCert}
     */
    public static Result boot(KmsClient client, Platform platform, byte[] appId, String vmConfig)
            throws IOException, RaException {
        KmsClient.AppKeyRelease release;
        try {
            release = client.getAppKeyWithTempCa(vmConfig);
        } catch (PrpcRemoteException e) {
            throw new IOException("the KMS at " + client.url() + " refused GetAppKey: " + e.remoteError(), e);
        } catch (RaException e) {
            throw e;
        } catch (AttestationException e) {
            throw new IOException("GetAppKey from the KMS at " + client.url() + " failed: " + e.getMessage(), e);
        }
        AppKeyResponse k = release.keys();
        TempCaCertResponse tmp = release.tempCa();
        // the KMS link: k256_signature must recover over this app id and the released app key
        byte[] kmsK256 = KmsSignatures.recoverK256Signer(RecoverableSignature.of(k.k256Signature()), appId,
                K256PrivateKey.fromScalar(k.k256Key()).publicKey());
        byte[] rootSpki = Tls.certificate(tmp.caCert()).getPublicKey().getEncoded();
        platform.emitEvent("os-image-hash", k.osImageHash());
        String keyProvider = "{\"name\":\"kms\",\"id\":\"" + HEX.formatHex(rootSpki) + "\"}";
        platform.emitEvent("key-provider", keyProvider.getBytes(StandardCharsets.UTF_8));
        platform.emitEvent("system-ready", new byte[0]);
        AppKeys keys = new AppKeys(k.diskCryptKey(), k.envCryptKey(), k.k256Key(), k.k256Signature(),
                k.gatewayAppId(), tmp.caCert(), new AppKeys.Kms(client.url().toString(), rootSpki, tmp.tempCaKey(),
                        tmp.tempCaCert()));
        return new Result(keys, kmsK256, signer(client, vmConfig));
    }

    /** {@code GetTlsKey}'s signer: the KMS's {@code SignCert} (v2 CSR), chain [leaf, app CA, KMS root]. */
    static CertSigner signer(KmsClient client, String vmConfig) {
        return (csr, signature) -> {
            try {
                return client.signCert(new SignCertRequest(2, csr, signature, vmConfig)).certificateChain();
            } catch (PrpcRemoteException e) {
                throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "SignCert",
                        "the KMS at " + client.url() + " refused: " + e.remoteError());
            } catch (IOException e) {
                throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "SignCert",
                        "the KMS at " + client.url() + " is unreachable: " + e.getMessage());
            } catch (RaException e) {
                throw e;
            } catch (AttestationException e) {
                throw new RaException(RaException.Reason.KMS_UNAVAILABLE, "SignCert", e.getMessage());
            }
        };
    }
}
