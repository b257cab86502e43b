package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Hashes;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/** §2.5: recoverable secp256k1 over Keccak-256, the KMS signatures, the GetKey chain. */
class SignatureTest {
    static final HexFormat HEX = HexFormat.of();
    static final byte[] APP_ID = KeyDerivationTest.APP_ID;

    static void assertReason(ThrowingCallable c, Reason r) {
        assertThatThrownBy(c).isInstanceOf(RaException.class)
                .satisfies(e -> assertThat(((RaException) e).raReason()).as(e.getMessage()).isEqualTo(r));
    }

    static K256PrivateKey key(int seed) throws RaException {
        return K256PrivateKey.fromScalar(Hashes.sha256(new byte[] {(byte) seed}));
    }

    @Test
    void a1LegacyEnvPubkeyVectorFromVmmCli() throws Exception {
        byte[] pub = HEX.parseHex("e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a");
        RecoverableSignature sig = RecoverableSignature.of(HEX.parseHex("8542c49081fbf4e03f62034f13fbf70630bdf256a53032e3"
                + "8465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1285212c4ae6a6154203a48f5e16cad2cef00"));
        assertThat(HEX.formatHex(KmsSignatures.recoverEnvPublicKeySigner(pub, sig, new byte[20])))
                .isEqualTo("0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
        // one changed byte of the key: recovers to someone else
        byte[] other = pub.clone();
        other[0] ^= 1;
        assertThat(HEX.formatHex(KmsSignatures.recoverEnvPublicKeySigner(other, sig, new byte[20])))
                .isNotEqualTo("0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
        byte[] kms = HEX.parseHex("0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
        assertThat(KmsSignatures.verifyEnvPublicKey(pub, new byte[20], sig, null, null, Instant.now(), kms)).isEqualTo(kms);
        assertReason(() -> KmsSignatures.verifyEnvPublicKey(other, new byte[20], sig, null, null, Instant.now(), kms),
                Reason.SIGNER_MISMATCH);
    }

    @Test
    void rfc6979NoncesMatchTheBitcoinVector() throws Exception {
        // private key 1, SHA-256("Satoshi Nakamoto"): the widely used RFC 6979 secp256k1 vector (low-S)
        byte[] one = new byte[32];
        one[31] = 1;
        K256PrivateKey k = K256PrivateKey.fromScalar(one);
        RecoverableSignature sig = k.signHash(Hashes.sha256("Satoshi Nakamoto".getBytes(StandardCharsets.US_ASCII)));
        assertThat(sig.toHex()).startsWith("934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
                + "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5");
    }

    @Test
    void signIsDeterministicLowSAndRecovers() throws Exception {
        for (int i = 0; i < 40; i++) {
            K256PrivateKey k = key(i);
            byte[] msg = ("message " + i).getBytes(StandardCharsets.UTF_8);
            RecoverableSignature a = k.signMessage(msg);
            assertThat(k.signMessage(msg)).isEqualTo(a);
            assertThat(a.isLowS()).isTrue();
            assertThat(a.recoveryId()).isBetween(0, 1);
            assertThat(Secp256k1.recoverMessage(msg, a)).isEqualTo(k.publicKey());
            Secp256k1.verify(Secp256k1.keccak256(msg), a, k.publicKeyUncompressed());
        }
    }

    @Test
    void keccakIsNotSha3() {
        assertThat(HEX.formatHex(Secp256k1.keccak256(new byte[0])))
                .isEqualTo("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    }

    @Test
    void malformedSignaturesFailWithTheirOwnReason() throws Exception {
        K256PrivateKey k = key(1);
        byte[] hash = Secp256k1.keccak256(new byte[] {1});
        byte[] sig = k.signHash(hash).bytes();
        assertReason(() -> RecoverableSignature.of(java.util.Arrays.copyOf(sig, 64)), Reason.SIGNATURE_MALFORMED);
        byte[] badRecid = sig.clone();
        badRecid[64] = 4;
        assertReason(() -> RecoverableSignature.of(badRecid), Reason.SIGNATURE_MALFORMED);
        byte[] zeroR = sig.clone();
        java.util.Arrays.fill(zeroR, 0, 32, (byte) 0);
        assertReason(() -> RecoverableSignature.of(zeroR), Reason.SIGNATURE_MALFORMED);
        byte[] highS = sig.clone();
        java.util.Arrays.fill(highS, 32, 64, (byte) 0xff);
        assertReason(() -> RecoverableSignature.of(highS), Reason.SIGNATURE_MALFORMED);
        // Ethereum-style v = 27/28 is accepted and normalised
        byte[] eth = sig.clone();
        eth[64] += 27;
        assertThat(RecoverableSignature.of(eth)).isEqualTo(RecoverableSignature.of(sig));
        // recid 2 (x = r + n) is above p for every r: recovery fails closed
        byte[] recid2 = sig.clone();
        recid2[64] = 2;
        assertReason(() -> Secp256k1.recover(hash, RecoverableSignature.of(recid2)), Reason.SIGNATURE_RECOVERY_FAILED);
        // an r that is no x coordinate
        byte[] noPoint = sig.clone();
        for (int v = 1; ; v++) {
            java.util.Arrays.fill(noPoint, 0, 32, (byte) 0);
            noPoint[31] = (byte) v;
            try {
                Secp256k1.recover(hash, RecoverableSignature.of(noPoint));
            } catch (RaException e) {
                assertThat(e.raReason()).isEqualTo(Reason.SIGNATURE_RECOVERY_FAILED);
                break;
            }
        }
        // a changed hash recovers to another key
        byte[] other = hash.clone();
        other[0] ^= 1;
        assertReason(() -> Secp256k1.verify(other, RecoverableSignature.of(sig), k.publicKey()), Reason.SIGNER_MISMATCH);
    }

    @Test
    void k256SignatureRoundTrip() throws Exception {
        K256PrivateKey root = key(7);
        K256PrivateKey app = KeyDerivation.appK256Key(root, APP_ID);
        RecoverableSignature s = KmsSignatures.k256Signature(root, APP_ID, app.publicKey());
        assertThat(KmsSignatures.recoverK256Signer(s, APP_ID, app.publicKeyUncompressed())).isEqualTo(root.publicKey());
        byte[] otherApp = APP_ID.clone();
        otherApp[19] ^= 1;
        assertThat(KmsSignatures.recoverK256Signer(s, otherApp, app.publicKey())).isNotEqualTo(root.publicKey());
    }

    @Test
    void envPubkeyV1FreshnessWindow() throws Exception {
        K256PrivateKey kms = key(9);
        byte[] pub = EnvCrypt.publicKey(SecretBytes.of(Hashes.sha256(new byte[] {5})));
        long ts = 1_750_000_000L;
        RecoverableSignature v1 = KmsSignatures.signEnvPublicKeyV1(kms, APP_ID, ts, pub);
        Duration age = KmsSignatures.DEFAULT_MAX_AGE;
        Duration skew = KmsSignatures.DEFAULT_FUTURE_SKEW;
        for (long now : new long[] {ts, ts + 300, ts - 60}) {
            assertThat(KmsSignatures.recoverEnvPublicKeySignerV1(pub, v1, APP_ID, ts, Instant.ofEpochSecond(now), age, skew))
                    .isEqualTo(kms.publicKey());
        }
        assertReason(() -> KmsSignatures.recoverEnvPublicKeySignerV1(pub, v1, APP_ID, ts, Instant.ofEpochSecond(ts + 301),
                age, skew), Reason.TIMESTAMP_TOO_OLD);
        assertReason(() -> KmsSignatures.recoverEnvPublicKeySignerV1(pub, v1, APP_ID, ts, Instant.ofEpochSecond(ts - 61),
                age, skew), Reason.TIMESTAMP_IN_FUTURE);
        // a v1 signature is not a legacy one, and another timestamp recovers to another key
        assertThat(KmsSignatures.recoverEnvPublicKeySigner(pub, v1, APP_ID)).isNotEqualTo(kms.publicKey());
        assertThat(KmsSignatures.recoverEnvPublicKeySignerV1(pub, v1, APP_ID, ts + 1, Instant.ofEpochSecond(ts), age, skew))
                .isNotEqualTo(kms.publicKey());
        // verifyEnvPublicKey prefers v1
        RecoverableSignature legacy = KmsSignatures.signEnvPublicKey(kms, APP_ID, pub);
        assertThat(KmsSignatures.verifyEnvPublicKey(pub, APP_ID, legacy, v1, ts, Instant.ofEpochSecond(ts), kms.publicKey()))
                .isEqualTo(kms.publicKey());
        assertReason(() -> KmsSignatures.verifyEnvPublicKey(pub, APP_ID, legacy, v1, ts, Instant.ofEpochSecond(ts + 1000),
                kms.publicKey()), Reason.TIMESTAMP_TOO_OLD);
        assertReason(() -> KmsSignatures.verifyEnvPublicKey(pub, APP_ID, null, null, null, Instant.now(), kms.publicKey()),
                Reason.SIGNATURE_MALFORMED);
    }

    @Test
    void getKeyChainVerifiesAndEachBreakHasItsReason() throws Exception {
        K256PrivateKey kms = key(11);
        K256PrivateKey app = KeyDerivation.appK256Key(kms, APP_ID);
        RecoverableSignature k256sig = KmsSignatures.k256Signature(kms, APP_ID, app.publicKey());
        KmsSignatures.GetKeyResult r = KmsSignatures.getKey(app, k256sig, "my/key/path", "signing");
        List<byte[]> chain = List.of(r.signatureChain().get(0).bytes(), r.signatureChain().get(1).bytes());
        byte[] keyScalar = r.key().scalar();
        KmsSignatures.ChainResult ok = KmsSignatures.verifyGetKeyChain(keyScalar, "signing", chain, APP_ID, kms.publicKey());
        assertThat(ok.appPublicKey()).isEqualTo(app.publicKey());
        assertThat(ok.kmsPublicKey()).isEqualTo(kms.publicKey());

        assertReason(() -> KmsSignatures.verifyGetKeyChain(keyScalar, "signing", chain.subList(0, 1), APP_ID,
                kms.publicKey()), Reason.CHAIN_LENGTH);
        assertReason(() -> KmsSignatures.verifyGetKeyChain(keyScalar, "signing", List.of(chain.get(1), chain.get(0)),
                APP_ID, kms.publicKey()), Reason.CHAIN_KMS_LINK);
        assertReason(() -> KmsSignatures.verifyGetKeyChain(keyScalar, "other-purpose", chain, APP_ID, kms.publicKey()),
                Reason.CHAIN_KMS_LINK);
        assertReason(() -> KmsSignatures.verifyGetKeyChain(keyScalar, "signing", chain, APP_ID, key(12).publicKey()),
                Reason.CHAIN_KMS_LINK);
        byte[] cut = java.util.Arrays.copyOf(chain.get(0), 64);
        assertReason(() -> KmsSignatures.verifyGetKeyChain(keyScalar, "signing", List.of(cut, chain.get(1)), APP_ID,
                kms.publicKey()), Reason.SIGNATURE_MALFORMED);
    }

    @Test
    void simulatorK256SignatureRecoversForTheSimulatorAppId() throws Exception {
        // appkeys.json carries k256_key and k256_signature; the signer is the (unknown) KMS of the capture,
        // so this only checks that the link is well formed and recovers for the app id of attestation.bin.
        com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Shared.text("simulator/appkeys.json"));
        K256PrivateKey app = K256PrivateKey.fromScalar(HEX.parseHex(n.get("k256_key").asText()));
        RecoverableSignature s = RecoverableSignature.of(HEX.parseHex(n.get("k256_signature").asText()));
        VersionedAttestation att = VersionedAttestation.decode(Shared.bytes("simulator/attestation.bin"));
        byte[] appId = att.findEventPayload("app-id");
        assertThat(appId).hasSize(20);
        assertThat(KmsSignatures.recoverK256Signer(s, appId, app.publicKey())).hasSize(33);
    }
}
