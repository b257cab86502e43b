/**
 * dstack's shared vocabulary, byte-exact with dstack ({@code ../shared/specs/dstack-platform.md} §2.4,
 * §2.5, §2.6, §2.7, §2.11, §2.12; docs/dstack-ra.md says which upstream file settled each format).
 *
 * <ul>
 *   <li>{@link dev.atlas.dstack.ra.KeyDerivation}: HKDF-SHA256 with salt {@code RATLS}, {@code deriveP256},
 *       {@code deriveDhSecret} over the hand-built 138-byte PKCS#8, the app disk / env / k256 / CA keys and
 *       the no-KMS seed keys ({@link dev.atlas.dstack.ra.P256PrivateKey}, {@link dev.atlas.dstack.ra.K256PrivateKey},
 *       {@link dev.atlas.dstack.ra.SecretBytes}).</li>
 *   <li>{@link dev.atlas.dstack.ra.Secp256k1} and {@link dev.atlas.dstack.ra.KmsSignatures}: recoverable
 *       secp256k1 signatures over Keccak-256 (RFC 6979, low-S), {@code k256_signature}, the env-encrypt
 *       public-key signatures (legacy and timestamped, with the SDKs' age and skew limits, time injected)
 *       and the {@code GetKey} signature chain.</li>
 *   <li>{@link dev.atlas.dstack.ra.VersionedAttestation} (V0 SCALE, V1 msgpack, stripped form),
 *       {@link dev.atlas.dstack.ra.AppInfo} ({@code mr_system}, {@code mr_aggregated}, the {@code .9}
 *       certificate payload) and {@link dev.atlas.dstack.ra.MrConfigV3}.</li>
 *   <li>{@link dev.atlas.dstack.ra.EnvCrypt}: X25519 + AES-256-GCM env encryption.</li>
 *   <li>{@link dev.atlas.dstack.ra.RaTlsCertificate} (building and parsing dstack's RA-TLS certificates, §2.6),
 *       {@link dev.atlas.dstack.ra.RaTlsVerifier} (chain to a CA trusted by key and DN, usage, and the attestation
 *       bound to the leaf key through {@code atlas-dstack}'s {@code DstackTdxVerifier}) and
 *       {@link dev.atlas.dstack.ra.CertSigningRequest} with {@link dev.atlas.dstack.ra.CertConfig}
 *       ({@code SignCert} CSRs v1/v2, §2.11). X.509 building uses Bouncy Castle's {@code bcpkix}.</li>
 * </ul>
 *
 * <p>Every failure is a checked {@link dev.atlas.dstack.ra.RaException}, an
 * {@link dev.atlas.tdx.AttestationException} whose coarse {@code reason()} and {@code kind()} callers switch on;
 * its fine {@link dev.atlas.dstack.ra.RaException.Reason} ({@code raReason()}) names the check and its
 * {@code field()} (also {@code subject()}) names the field a decoder rejected. Key types and secrets print no secret in {@code toString} or in messages.
 *
 * <p><b>Why Bouncy Castle</b> ({@code bcprov-jdk18on} only, its lightweight API): the module runs on JDK 17,
 * whose providers have no secp256k1 (SunEC dropped it in 16), no Keccak-256 (the JDK has only the standard
 * SHA3-256, whose padding differs), no RFC 6979 deterministic nonces and no public-key recovery. BC supplies
 * the secp256k1 curve parameters and point arithmetic, {@code KeccakDigest} and {@code HMacDSAKCalculator};
 * the recovery math is written here on BC's point API. X25519 exists in the JDK from 11 but only behind
 * {@code KeyFactory}/{@code KeyAgreement} objects, with no way to tell a low-order peer key (all-zero shared
 * secret, which dstack's {@code dh_decrypt} refuses) from a good one; BC's {@code rfc7748.X25519} works on
 * the raw 32-byte keys dstack stores and reports that case. AES-GCM, SHA-2 and P-256 public keys use BC or
 * the JDK interchangeably; BC's HKDF keeps the salt handling visible. Bouncy Castle is already a dependency
 * of the project (atlas-testing, atlas-server); the version comes from the root pom.
 */
package dev.atlas.dstack.ra;
