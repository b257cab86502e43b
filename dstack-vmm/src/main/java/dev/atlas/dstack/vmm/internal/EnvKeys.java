package dev.atlas.dstack.vmm.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.ra.KmsSignatures;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RecoverableSignature;
import dev.atlas.dstack.ra.kms.GetMetaResponse;
import dev.atlas.dstack.ra.kms.KmsClient;
import dev.atlas.dstack.ra.kms.PublicKeyResponse;
import dev.atlas.dstack.ra.prpc.PrpcException;
import dev.atlas.dstack.ra.prpc.PrpcJson;
import dev.atlas.dstack.ra.prpc.PrpcRemoteException;
import dev.atlas.tdx.AttestationException;

import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;

/**
 * {@code GetAppEnvEncryptPubKey}: asked of the KMS at the top-level {@code kms_url} (upstream passes the answer
 * through unchecked); we also check it: the KMS's {@code GetMeta} names its root {@code k256_pubkey}, and the
 * answer's {@code signature_v1} (when present, with dstack's freshness bounds) or legacy {@code signature} must
 * recover to that key. A signature that does not verify refuses the call, so no env is encrypted to that key.
 */
final class EnvKeys {
    private final String kmsUrl;
    private final Clock clock;
    private final Duration timeout;

    EnvKeys(String kmsUrl, Clock clock, Duration timeout) {
        this.kmsUrl = kmsUrl;
        this.clock = clock;
        this.timeout = timeout;
    }

    ObjectNode get(byte[] appId) throws PrpcException {
        if (kmsUrl.isEmpty()) {
            throw new PrpcException("KMS is not configured");
        }
        KmsClient kms;
        try {
            kms = KmsClient.builder(URI.create(kmsUrl)).timeout(timeout).build();
        } catch (IllegalArgumentException e) {
            throw new PrpcException("KMS is not configured: kms_url " + PrpcSafe.of(kmsUrl) + " is not a KMS URL");
        }
        try (kms) {
            PublicKeyResponse r = kms.getAppEnvEncryptPubKey(appId);
            GetMetaResponse meta = kms.getMeta();
            byte[] v1 = r.signatureV1();
            KmsSignatures.verifyEnvPublicKey(r.publicKey(), appId, RecoverableSignature.of(r.signature()),
                    v1.length == 0 ? null : RecoverableSignature.of(v1), v1.length == 0 ? null : r.timestamp(),
                    clock.instant(), meta.k256Pubkey());
            ObjectNode o = Manifest.NODES.objectNode();
            o.put("public_key", PrpcJson.hex(r.publicKey()));
            o.put("signature", PrpcJson.hex(r.signature()));
            o.put("timestamp", r.timestamp());
            o.put("signature_v1", PrpcJson.hex(v1));
            return o;
        } catch (PrpcRemoteException e) {
            throw new PrpcException(e.getMessage());
        } catch (RaException e) {
            throw new PrpcException("the KMS env-key signature does not verify against the KMS root key of "
                    + PrpcSafe.of(kmsUrl) + ": " + e.getMessage());
        } catch (AttestationException e) {
            throw new PrpcException("the KMS at " + PrpcSafe.of(kmsUrl) + " answered garbage: " + e.getMessage());
        } catch (IOException e) {
            throw new PrpcException("the KMS at " + PrpcSafe.of(kmsUrl) + " is unreachable: "
                    + e.getClass().getSimpleName());
        }
    }
}
