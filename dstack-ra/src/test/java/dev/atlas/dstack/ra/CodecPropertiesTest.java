package dev.atlas.dstack.ra;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Round trips of the SCALE, msgpack and AppInfo codecs, and of sign/recover. */
class CodecPropertiesTest {
    static Arbitrary<String> text() {
        return Arbitraries.strings().withCharRange(' ', '~').withChars('\u00fc', '\u20ac', '\n', '"', '\\')
                .ofMaxLength(40);
    }

    static Arbitrary<byte[]> bytes(int max) {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(max);
    }

    @Provide
    Arbitrary<VersionedAttestation> v0() {
        Arbitrary<TdxEvent> ev = Combinators.combine(Arbitraries.longs().between(0, 0xffffffffL),
                Arbitraries.longs().between(0, 0xffffffffL), bytes(48), text(), bytes(300))
                .as(TdxEvent::of);
        Arbitrary<RuntimeEvent> rt = Combinators.combine(text(), bytes(100)).as(RuntimeEvent::v1);
        return Combinators.combine(bytes(700), ev.list().ofMaxSize(8), rt.list().ofMaxSize(8),
                Arbitraries.bytes().array(byte[].class).ofSize(64), text())
                .as((q, log, r, rd, cfg) -> new VersionedAttestation(0, q, log, r, rd, cfg, null));
    }

    @Provide
    Arbitrary<VersionedAttestation> v1() {
        Arbitrary<TdxEvent> ev = Combinators.combine(Arbitraries.longs().between(0, 0xffffffffL),
                Arbitraries.longs().between(0, 0xffffffffL), bytes(48), text(), bytes(300),
                Arbitraries.integers().between(1, 2), text().injectNull(0.5))
                .as(TdxEvent::new);
        Arbitrary<RuntimeEvent> rt = Combinators.combine(text(), bytes(100), Arbitraries.integers().between(1, 2))
                .as(RuntimeEvent::new);
        return Combinators.combine(bytes(700), ev.list().ofMaxSize(8), rt.list().ofMaxSize(8),
                Arbitraries.bytes().array(byte[].class).ofSize(64), text(), text().injectNull(0.5))
                .as((q, log, r, rd, cfg, pod) -> new VersionedAttestation(1, q, log, r, rd, cfg, pod));
    }

    @Property(tries = 200)
    void v0RoundTripsByteForByte(@ForAll("v0") VersionedAttestation a) throws Exception {
        byte[] b = a.encode();
        VersionedAttestation d = VersionedAttestation.decode(b);
        assertThat(d).isEqualTo(a);
        assertThat(d.encode()).isEqualTo(b);
        // and through V1
        assertThat(VersionedAttestation.decode(a.withVersion(1).encode()).withVersion(0)).isEqualTo(a);
    }

    @Property(tries = 200)
    void v1RoundTrips(@ForAll("v1") VersionedAttestation a) throws Exception {
        byte[] b = a.encode();
        VersionedAttestation d = VersionedAttestation.decode(b);
        assertThat(d).isEqualTo(a);
        assertThat(d.encode()).isEqualTo(b);
        assertThat(d.stripped().stripped()).isEqualTo(d.stripped());
    }

    @Provide
    Arbitrary<AppInfo> appInfos() {
        Arbitrary<byte[]> h32 = Arbitraries.bytes().array(byte[].class).ofSize(32);
        Arbitrary<List<byte[]>> scripts = h32.list().ofMaxSize(5).injectNull(0.3);
        return Combinators.combine(bytes(40), bytes(40), bytes(40), bytes(40), h32, h32, bytes(40), bytes(300))
                .as((a, b, c, d, e, f, g, h) -> new Object[] {a, b, c, d, e, f, g, h})
                .flatMap(o -> scripts.map(s -> new AppInfo((byte[]) o[0], (byte[]) o[1], (byte[]) o[2], (byte[]) o[3],
                        (byte[]) o[4], (byte[]) o[5], (byte[]) o[6], (byte[]) o[7], s)));
    }

    @Property(tries = 200)
    void appInfoRoundTrips(@ForAll("appInfos") AppInfo a) throws Exception {
        byte[] b = a.encode();
        AppInfo d = AppInfo.decode(b);
        assertThat(d).isEqualTo(a);
        assertThat(d.encode()).isEqualTo(b);
    }

    @Property(tries = 50)
    void signRecoverRoundTrips(@ForAll byte[] message, @ForAll long seed) throws Exception {
        K256PrivateKey k = K256PrivateKey.fromScalar(dev.atlas.dstack.ra.internal.Hashes.sha256(java.math.BigInteger
                .valueOf(seed).toByteArray()));
        RecoverableSignature s = k.signMessage(message);
        assertThat(s.isLowS()).isTrue();
        assertThat(Secp256k1.recoverMessage(message, RecoverableSignature.of(s.bytes()))).isEqualTo(k.publicKey());
    }

    /** The recovery id taken from R gives exactly BC's RFC 6979 ECDSA (r, low-S s) plus the id that recovers. */
    @Property(tries = 50)
    void signatureIsBouncyCastlesRfc6979(@ForAll byte[] message, @ForAll long seed) throws Exception {
        byte[] scalar = dev.atlas.dstack.ra.internal.Hashes.sha256(java.math.BigInteger.valueOf(seed).toByteArray());
        byte[] hash = Secp256k1.keccak256(message);
        org.bouncycastle.crypto.signers.ECDSASigner bc = new org.bouncycastle.crypto.signers.ECDSASigner(
                new org.bouncycastle.crypto.signers.HMacDSAKCalculator(new org.bouncycastle.crypto.digests.SHA256Digest()));
        bc.init(true, new org.bouncycastle.crypto.params.ECPrivateKeyParameters(new java.math.BigInteger(1, scalar),
                dev.atlas.dstack.ra.internal.Curves.K256));
        java.math.BigInteger[] rs = bc.generateSignature(hash);
        java.math.BigInteger n = dev.atlas.dstack.ra.internal.Curves.K256.getN();
        java.math.BigInteger lowS = rs[1].compareTo(n.shiftRight(1)) > 0 ? n.subtract(rs[1]) : rs[1];
        RecoverableSignature ours = K256PrivateKey.fromScalar(scalar).signHash(hash);
        assertThat(ours.r()).isEqualTo(rs[0]);
        assertThat(ours.s()).isEqualTo(lowS);
        assertThat(Secp256k1.recover(hash, ours)).isEqualTo(K256PrivateKey.fromScalar(scalar).publicKey());
    }

    @Property(tries = 50)
    void envRoundTrips(@ForAll byte[] plaintext, @ForAll long seed) throws Exception {
        SecretBytes key = SecretBytes.of(dev.atlas.dstack.ra.internal.Hashes.sha256(java.math.BigInteger.valueOf(seed)
                .toByteArray()));
        byte[] ct = EnvCrypt.encryptBytes(plaintext, EnvCrypt.publicKey(key), new java.security.SecureRandom());
        assertThat(EnvCrypt.decryptBytes(key, ct)).isEqualTo(plaintext);
    }
}
