/**
 * dstack's shared vocabulary: KMS key derivations, recoverable secp256k1/Keccak-256 signatures, the V0 SCALE
 * and V1 msgpack attestation formats with {@code AppInfo} and the measurements, and env encryption.
 */
module dev.atlas.dstack.ra {
    requires transitive dev.atlas.tdx;
    requires org.bouncycastle.provider;
    requires transitive com.fasterxml.jackson.databind;
    requires java.net.http;
    requires transitive jdk.httpserver;

    exports dev.atlas.dstack.ra;
    exports dev.atlas.dstack.ra.prpc;
}
