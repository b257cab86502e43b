/**
 * dstack's shared vocabulary: KMS key derivations, recoverable secp256k1/Keccak-256 signatures, the V0 SCALE
 * and V1 msgpack attestation formats with {@code AppInfo} and the measurements, env encryption,
 * and RA-TLS certificates with {@code SignCert} CSRs.
 */
module dev.atlas.dstack.ra {
    requires transitive dev.atlas.tdx;
    requires transitive dev.atlas.dstack; // RaTlsVerifier: DstackTdxVerifier, Appraiser, AttestationReport
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix; // X.509 building (RA-TLS certificates)
    requires transitive com.fasterxml.jackson.databind;
    requires java.net.http;
    requires transitive jdk.httpserver;

    exports dev.atlas.dstack.ra;
    exports dev.atlas.dstack.ra.prpc;
    exports dev.atlas.dstack.ra.kms;
    exports dev.atlas.dstack.ra.config;
}
