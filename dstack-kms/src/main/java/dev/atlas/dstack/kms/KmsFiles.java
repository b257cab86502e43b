package dev.atlas.dstack.kms;

/**
 * The names of the KMS's state files in {@code core.cert_dir}, exactly as dstack-kms writes them
 * ({@code ../shared/specs/dstack-platform.md} §2.1; upstream {@code kms/src/config.rs}). Keys are written with
 * mode 0600.
 */
public final class KmsFiles {
    /** The P-256 root CA certificate (PEM). */
    public static final String ROOT_CA_CERT = "root-ca.crt";
    /** The P-256 root CA key (PKCS#8 PEM). */
    public static final String ROOT_CA_KEY = "root-ca.key";
    /** The secp256k1 root key: 32 raw bytes. */
    public static final String ROOT_K256_KEY = "root-k256.key";
    /** The "client temp CA" certificate (PEM). */
    public static final String TEMP_CA_CERT = "tmp-ca.crt";
    /** The "client temp CA" key (PKCS#8 PEM). */
    public static final String TEMP_CA_KEY = "tmp-ca.key";
    /** The RPC (TLS server) certificate (PEM), re-issued on every start. */
    public static final String RPC_CERT = "rpc.crt";
    /** The RPC key (PKCS#8 PEM). */
    public static final String RPC_KEY = "rpc.key";
    /** The RPC domain name (text). */
    public static final String RPC_DOMAIN = "rpc-domain";
    /** The JSON of the {@code BootstrapResponse}. */
    public static final String BOOTSTRAP_INFO = "bootstrap-info.json";

    private KmsFiles() {
    }
}
