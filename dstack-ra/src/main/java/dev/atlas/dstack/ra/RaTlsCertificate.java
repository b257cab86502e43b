package dev.atlas.dstack.ra;

import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.internal.Bytes;
import dev.atlas.dstack.ra.internal.Der;
import dev.atlas.dstack.ra.internal.Hashes;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.Time;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * dstack's RA-TLS certificates ({@code ra-tls/src/cert.rs}, {@code oids.rs}, {@code traits.rs},
 * {@code attestation.rs}; spec §2.6): a parsed view of an {@link X509Certificate} with dstack's custom
 * extensions, and a {@link Builder} that makes them as dstack's KMS and guests do.
 *
 * <p>Every custom extension is non-critical, and its {@code extnValue} holds a DER OCTET STRING that wraps the
 * payload (so the payload is double-wrapped): {@code .3} the 20-byte app id, {@code .4} the UTF-8 special usage
 * ({@value #USAGE_KMS_RPC}, {@value #USAGE_APP_CA}, {@value #USAGE_APP_CUSTOM}), {@code .8} the
 * {@linkplain VersionedAttestation#stripped() stripped} attestation, {@code .9} {@link AppInfo} in its msgpack
 * array form; legacy {@code .1} a raw TDX quote and {@code .2} its JSON event log (optionally gzip after
 * {@code "ELGZv1"}, at most 16 KiB decompressed), read when {@code .8} is absent.
 *
 * <p>This class only reads and makes certificates; {@link RaTlsVerifier} checks the chain, the usage and the
 * attestation and its binding ({@link #reportData(PublicKey)}). Immutable.
 */
public final class RaTlsCertificate {
    /** Arc of dstack's OIDs ({@code 1.3.6.1.4.1.62397.1}). */
    public static final String OID_ARC = "1.3.6.1.4.1.62397.1";
    /** {@code PHALA_RATLS_TDX_QUOTE} (legacy): a raw TDX quote. */
    public static final String OID_TDX_QUOTE = OID_ARC + ".1";
    /** {@code PHALA_RATLS_EVENT_LOG} (legacy): the JSON event log, optionally gzip after {@code ELGZv1}. */
    public static final String OID_EVENT_LOG = OID_ARC + ".2";
    /** {@code PHALA_RATLS_APP_ID}: the 20-byte app id. */
    public static final String OID_APP_ID = OID_ARC + ".3";
    /** {@code PHALA_RATLS_CERT_USAGE}: the UTF-8 special usage. */
    public static final String OID_CERT_USAGE = OID_ARC + ".4";
    /** {@code PHALA_RATLS_ATTESTATION}: the stripped {@link VersionedAttestation}. */
    public static final String OID_ATTESTATION = OID_ARC + ".8";
    /** {@code PHALA_RATLS_APP_INFO}: {@link AppInfo} in msgpack array form. */
    public static final String OID_APP_INFO = OID_ARC + ".9";

    /** Usage of the KMS RPC certificate. */
    public static final String USAGE_KMS_RPC = "kms:rpc";
    /** Usage of a per-app CA certificate. */
    public static final String USAGE_APP_CA = "app:ca";
    /** Usage of a leaf signed by {@code SignCert}. */
    public static final String USAGE_APP_CUSTOM = "app:custom";

    /** The gzip marker of the legacy event-log extension ({@code EVENTLOG_GZIP_MAGIC}). */
    public static final String EVENT_LOG_GZIP_MAGIC = "ELGZv1";
    /** {@code MAX_EVENTLOG_EXT_SIZE}: most bytes a gzip event-log extension may decompress to. */
    public static final int MAX_EVENT_LOG_DECOMPRESSED = 16 * 1024;
    /** Longest special usage accepted, in bytes (ours). */
    public static final int MAX_USAGE_BYTES = 256;
    /** {@code app_id} length. */
    public static final int APP_ID_BYTES = 20;
    /** The report-data tag of RA-TLS certificates ({@code QuoteContentType::RaTlsCert}). */
    public static final String RATLS_CERT_TAG = "ratls-cert";
    /** rcgen's default {@code notBefore} (dstack never sets one): 1975-01-01T00:00:00Z. */
    public static final Instant RCGEN_DEFAULT_NOT_BEFORE = Instant.parse("1975-01-01T00:00:00Z");
    /** dstack's default validity: {@code notAfter = now + 3650 days}. */
    public static final Duration DEFAULT_VALIDITY = Duration.ofDays(3650);

    private final X509Certificate certificate;
    private final String usage;
    private final byte[] appId;
    private final VersionedAttestation attestation;
    private final byte[] attestationBytes;
    private final AppInfo appInfo;
    private final boolean legacyAttestation;

    private RaTlsCertificate(X509Certificate certificate, String usage, byte[] appId,
            VersionedAttestation attestation, byte[] attestationBytes, AppInfo appInfo, boolean legacy) {
        this.certificate = certificate;
        this.usage = usage;
        this.appId = appId;
        this.attestation = attestation;
        this.attestationBytes = attestationBytes;
        this.appInfo = appInfo;
        this.legacyAttestation = legacy;
    }

    /** A builder (see {@link Builder} for the defaults). */
    public static Builder builder() {
        return new Builder();
    }

    // ---- report data -----------------------------------------------------------------------------------------

    /**
     * {@code -----BEGIN CERTIFICATE-----} PEM as rcgen writes it (and the KMS serves it): base64 in 64-character
     * lines, {@code \n}, a final newline.
     */
    public static String pem(X509Certificate cert) {
        try {
            String b64 = java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(cert.getEncoded());
            return "-----BEGIN CERTIFICATE-----\n" + b64 + "\n-----END CERTIFICATE-----\n";
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException("a parsed certificate re-encodes", e);
        }
    }

    /** {@code SHA-512("ratls-cert:" ‖ SPKI DER of key)}: the report data an RA-TLS attestation must carry. */
    public static byte[] reportData(PublicKey key) {
        return reportData(RATLS_CERT_TAG, key.getEncoded());
    }

    /**
     * dstack's {@code QuoteContentType::to_report_data} with the default hash:
     * {@code SHA-512(tag ‖ ":" ‖ content)} (64 bytes). Tags: {@code ratls-cert}, {@code app-data},
     * {@code kms-root-ca}, or a custom one such as {@code zt-cert}.
     */
    public static byte[] reportData(String tag, byte[] content) {
        return Hashes.sha512(tag.getBytes(StandardCharsets.UTF_8), new byte[] {':'}, content);
    }

    // ---- parsing ---------------------------------------------------------------------------------------------

    /**
     * Reads dstack's extensions of {@code cert}. Strict: each present extension's inner value must be exactly one
     * DER OCTET STRING; the app id 20 bytes; the usage UTF-8 of at most {@value #MAX_USAGE_BYTES} bytes; the
     * attestation ({@code .8}, else {@code .1} with {@code .2}) and the app info well-formed. Absent extensions
     * are empty. Nothing is verified (see {@link RaTlsVerifier}).
     *
     * @throws RaException {@code CERT_EXTENSION_MALFORMED} naming the extension (the decoder's own reason and
     *     field are in the message and the cause), {@code CERT_EXTENSION_MISSING} for a legacy quote without its
     *     event log
     */
    public static RaTlsCertificate parse(X509Certificate cert) throws RaException {
        Objects.requireNonNull(cert, "cert");
        return parse(cert, cert::getExtensionValue);
    }

    /** {@link #parse(X509Certificate)} with the extension values ({@code extnValue} DER by OID) from {@code ext}. */
    static RaTlsCertificate parse(X509Certificate cert, Function<String, byte[]> ext) throws RaException {
        String usage = null;
        byte[] u = payload(ext, OID_CERT_USAGE, "usage");
        if (u != null) {
            if (u.length > MAX_USAGE_BYTES) {
                throw malformed(OID_CERT_USAGE, "usage", u.length + " bytes > " + MAX_USAGE_BYTES, null);
            }
            try {
                usage = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(u)).toString();
            } catch (CharacterCodingException e) {
                throw malformed(OID_CERT_USAGE, "usage", "not UTF-8", null);
            }
        }
        byte[] appId = payload(ext, OID_APP_ID, "app id");
        if (appId != null && appId.length != APP_ID_BYTES) {
            throw malformed(OID_APP_ID, "app id", "must be " + APP_ID_BYTES + " bytes, got " + appId.length, null);
        }
        AppInfo appInfo = null;
        byte[] ai = payload(ext, OID_APP_INFO, "app info");
        if (ai != null) {
            try {
                appInfo = AppInfo.decode(ai);
            } catch (RaException e) {
                throw malformed(OID_APP_INFO, "app info", e.raReason() + ": " + e.detail(), e);
            }
        }
        VersionedAttestation att = null;
        byte[] attBytes = null;
        boolean legacy = false;
        byte[] a = payload(ext, OID_ATTESTATION, "attestation");
        if (a != null) {
            try {
                att = VersionedAttestation.decode(a);
            } catch (RaException e) {
                throw malformed(OID_ATTESTATION, "attestation", e.raReason() + ": " + e.detail(), e);
            }
            attBytes = a;
        } else {
            byte[] quote = payload(ext, OID_TDX_QUOTE, "legacy TDX quote");
            if (quote != null) {
                byte[] log = payload(ext, OID_EVENT_LOG, "legacy event log");
                if (log == null) {
                    throw new RaException(Reason.CERT_EXTENSION_MISSING, "extension " + OID_EVENT_LOG
                            + " (legacy event log)", "a legacy TDX quote (" + OID_TDX_QUOTE + ") needs its event log");
                }
                log = decompressEventLog(log);
                try {
                    att = LegacyAttestation.fromTdxQuote(quote, log, "quote", "event_log");
                } catch (RaException e) {
                    String oid = e.field() != null && e.field().startsWith("quote") ? OID_TDX_QUOTE : OID_EVENT_LOG;
                    throw malformed(oid, oid.equals(OID_TDX_QUOTE) ? "legacy TDX quote" : "legacy event log",
                            e.raReason() + ": " + e.detail(), e);
                }
                attBytes = att.encode();
                legacy = true;
            }
        }
        return new RaTlsCertificate(cert, usage, appId, att, attBytes, appInfo, legacy);
    }

    /** The payload of extension {@code oid}: its extnValue's inner DER OCTET STRING content, or null. */
    private static byte[] payload(Function<String, byte[]> ext, String oid, String name) throws RaException {
        byte[] value = ext.apply(oid);
        if (value == null) {
            return null;
        }
        String field = "extension " + oid + " (" + name + ")";
        byte[] inner = Der.octetString(value, Reason.CERT_EXTENSION_MALFORMED, field);
        return Der.octetString(inner, Reason.CERT_EXTENSION_MALFORMED, field);
    }

    private static RaException malformed(String oid, String name, String message, Throwable cause) {
        return new RaException(Reason.CERT_EXTENSION_MALFORMED, "extension " + oid + " (" + name + ")", message,
                cause);
    }

    /** {@code decompress_ext_value}: {@code ELGZv1 ‖ gzip} is inflated (at most 16 KiB), anything else kept. */
    static byte[] decompressEventLog(byte[] value) throws RaException {
        byte[] magic = EVENT_LOG_GZIP_MAGIC.getBytes(StandardCharsets.US_ASCII);
        if (value.length < magic.length || !Arrays.equals(value, 0, magic.length, magic, 0, magic.length)) {
            return value;
        }
        String field = "extension " + OID_EVENT_LOG + " (legacy event log)";
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(value, magic.length,
                value.length - magic.length))) {
            byte[] out = in.readNBytes(MAX_EVENT_LOG_DECOMPRESSED + 1);
            if (out.length > MAX_EVENT_LOG_DECOMPRESSED) {
                throw new RaException(Reason.CERT_EXTENSION_MALFORMED, field,
                        "gzip event log decompresses to more than " + MAX_EVENT_LOG_DECOMPRESSED + " bytes");
            }
            return out;
        } catch (IOException e) {
            throw new RaException(Reason.CERT_EXTENSION_MALFORMED, field, "bad gzip after " + EVENT_LOG_GZIP_MAGIC);
        }
    }

    // ---- accessors -------------------------------------------------------------------------------------------

    public X509Certificate certificate() {
        return certificate;
    }

    /** The special usage ({@code .4}). */
    public Optional<String> usage() {
        return Optional.ofNullable(usage);
    }

    /** The 20-byte app id ({@code .3}), a copy. */
    public Optional<byte[]> appId() {
        return Optional.ofNullable(appId).map(byte[]::clone);
    }

    /**
     * The attestation bytes: the {@code .8} payload as found, or for a legacy certificate the V0 encoding of the
     * attestation built from {@code .1} and {@code .2}. A copy.
     */
    public Optional<byte[]> attestation() {
        return Optional.ofNullable(attestationBytes).map(byte[]::clone);
    }

    /** The decoded attestation (see {@link #attestation()}). */
    public Optional<VersionedAttestation> versionedAttestation() {
        return Optional.ofNullable(attestation);
    }

    /** Whether the attestation came from the legacy {@code .1} + {@code .2} extensions. */
    public boolean legacyAttestation() {
        return legacyAttestation;
    }

    /** The app info ({@code .9}). */
    public Optional<AppInfo> appInfo() {
        return Optional.ofNullable(appInfo);
    }

    /** DER SubjectPublicKeyInfo of the certificate key. */
    public byte[] spki() {
        return certificate.getPublicKey().getEncoded();
    }

    @Override
    public String toString() {
        return "RaTlsCertificate[subject=" + certificate.getSubjectX500Principal().getName() + ", usage=" + usage
                + ", appId=" + (appId == null ? "none" : Bytes.HEX.formatHex(appId)) + ", attestation="
                + (attestation == null ? "none" : (legacyAttestation ? "legacy " : "") + attestation)
                + ", appInfo=" + (appInfo != null) + "]";
    }

    // ---- building --------------------------------------------------------------------------------------------

    /**
     * Makes certificates as dstack's {@code CertRequest} (rcgen): ECDSA P-256/SHA-256; subject {@code O=<org>}
     * (when given) then {@code CN=<subject>}, UTF8String; SANs (an IP literal becomes an IP SAN, anything else a
     * DNS name, as rcgen's {@code CertificateParams::new}); KeyUsage digitalSignature (critical), a CA adds
     * keyCertSign and cRLSign, a SubjectKeyIdentifier (SHA-256 of the SPKI, first 20 bytes) and BasicConstraints
     * {@code CA:true, pathlen} (critical); EKU serverAuth/clientAuth (non-critical); then the custom extensions
     * app id, app info, usage, attestation (non-critical, double-wrapped).
     *
     * <p>Defaults: {@code notBefore} is rcgen's {@link #RCGEN_DEFAULT_NOT_BEFORE} (1975-01-01), since dstack sets
     * none; {@code notAfter} is the clock's now + 3650 days (the clock defaults to the system UTC clock; building
     * is not a check); the serial is 20 random bytes with the top bit clear (rcgen derives it from the key
     * instead; see docs/dstack-ra.md). Instants are truncated to seconds. Not thread-safe; reusable.
     */
    public static final class Builder {
        private static final Pattern IPV4 = Pattern.compile("(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){3}");
        private static final SecureRandom RANDOM = new SecureRandom();
        private static final Instant FIRST_X509_SECOND = Instant.parse("0000-01-01T00:00:00Z");
        private static final Instant LAST_X509_SECOND = Instant.parse("9999-12-31T23:59:59Z");

        private String subject;
        private String organization;
        private List<String> altNames = List.of();
        private String usage;
        private byte[] appId;
        private byte[] attestation;
        private AppInfo appInfo;
        private Integer caLevel;
        private boolean serverAuth;
        private boolean clientAuth;
        private Instant notBefore;
        private Instant notAfter;
        private Clock clock = Clock.systemUTC();
        private PublicKey publicKey;
        private BigInteger serial;

        private Builder() {}

        /** {@code CN=} (required). */
        public Builder subject(String cn) {
            this.subject = Objects.requireNonNull(cn, "subject");
            return this;
        }

        /** {@code O=}, or null for none. */
        public Builder organization(String o) {
            this.organization = o;
            return this;
        }

        /** SubjectAltName entries: DNS names, or IP literals. */
        public Builder altNames(List<String> dns) {
            this.altNames = List.copyOf(dns);
            return this;
        }

        /** The special usage ({@code .4}), e.g. {@value RaTlsCertificate#USAGE_APP_CUSTOM}; null for none. */
        public Builder usage(String specialUsage) {
            this.usage = specialUsage;
            return this;
        }

        /** The 20-byte app id ({@code .3}); null for none. */
        public Builder appId(byte[] appId) {
            this.appId = appId == null ? null : appId.clone();
            return this;
        }

        /**
         * A {@link VersionedAttestation} (V0 or V1 bytes, full or stripped) for {@code .8}; it is decoded and
         * {@linkplain VersionedAttestation#stripped() stripped} (as dstack's {@code into_stripped}) when the
         * certificate is made. Null for none.
         */
        public Builder attestation(byte[] stripped) {
            this.attestation = stripped == null ? null : stripped.clone();
            return this;
        }

        /** The app info ({@code .9}); null for none. */
        public Builder appInfo(AppInfo info) {
            this.appInfo = info;
            return this;
        }

        /** Makes a CA with {@code BasicConstraints CA:true, pathlen = pathLen} (0..255). */
        public Builder caLevel(int pathLen) {
            if (pathLen < 0 || pathLen > 255) {
                throw new IllegalArgumentException("ca level is a u8, got " + pathLen);
            }
            this.caLevel = pathLen;
            return this;
        }

        public Builder serverAuth(boolean v) {
            this.serverAuth = v;
            return this;
        }

        public Builder clientAuth(boolean v) {
            this.clientAuth = v;
            return this;
        }

        public Builder notBefore(Instant t) {
            this.notBefore = t;
            return this;
        }

        public Builder notAfter(Instant t) {
            this.notAfter = t;
            return this;
        }

        /** The clock of the default {@code notAfter} (now + 3650 days). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** The certified key (required for {@link #signedBy}; must be the key pair's for {@link #selfSigned}). */
        public Builder publicKey(PublicKey subjectKey) {
            this.publicKey = subjectKey;
            return this;
        }

        /** A serial number (positive, at most 20 bytes) instead of a random one. */
        public Builder serial(BigInteger serialNumber) {
            if (serialNumber != null && (serialNumber.signum() <= 0 || serialNumber.bitLength() > 159)) {
                throw new IllegalArgumentException("a serial is positive and at most 20 bytes");
            }
            this.serial = serialNumber;
            return this;
        }

        /**
         * Takes what a {@code SignCert} request asks for, as dstack's {@code CaCert::sign_csr}: the CSR key,
         * {@code CN}, {@code O}, SANs, EKUs, the requested validity (when present), the attestation when
         * {@code ext_quote}, and the {@link AppInfo} decoded from the attestation ({@code decode_app_info(false)})
         * when {@code ext_app_info}. The caller then sets what the KMS decides: {@link #appId} and
         * {@link #usage} (dstack: the caller's app id and {@value RaTlsCertificate#USAGE_APP_CUSTOM}). Verify the
         * CSR's signature and attestation first.
         *
         * @throws RaException when {@code ext_app_info} is set and the attestation yields no app info
         */
        public Builder fromCsr(CertSigningRequest csr) throws RaException {
            CertConfig c = csr.config();
            subject(c.subject());
            organization(c.orgName().orElse(null));
            altNames(c.subjectAltNames());
            serverAuth(c.usageServerAuth());
            clientAuth(c.usageClientAuth());
            if (c.notBefore().isPresent()) {
                notBefore(x509Time(c.notBefore().getAsLong(), "config.not_before"));
            }
            if (c.notAfter().isPresent()) {
                notAfter(x509Time(c.notAfter().getAsLong(), "config.not_after"));
            }
            publicKey(csr.publicKey());
            attestation(c.extQuote() ? csr.attestation() : null);
            appInfo(c.extAppInfo() ? csr.versionedAttestation().appInfo(false) : null);
            return this;
        }

        private static Instant x509Time(long unixSeconds, String field) throws RaException {
            if (unixSeconds > LAST_X509_SECOND.getEpochSecond()) {
                throw new RaException(Reason.INVALID_ARGUMENT, field, unixSeconds + " is after year 9999");
            }
            return Instant.ofEpochSecond(unixSeconds);
        }

        /** A self-signed certificate of {@code key} (P-256). */
        public X509Certificate selfSigned(KeyPair key) throws RaException {
            Objects.requireNonNull(key, "key");
            if (publicKey != null && !Arrays.equals(publicKey.getEncoded(), key.getPublic().getEncoded())) {
                throw new RaException(Reason.INVALID_ARGUMENT, "publicKey", "differs from the key pair's public key");
            }
            return build(subjectName(), key.getPublic(), key.getPrivate(), key.getPublic());
        }

        /** A certificate of {@link #publicKey} signed by {@code issuer} with {@code issuerKey} (P-256). */
        public X509Certificate signedBy(X509Certificate issuer, PrivateKey issuerKey) throws RaException {
            Objects.requireNonNull(issuer, "issuer");
            Objects.requireNonNull(issuerKey, "issuerKey");
            if (publicKey == null) {
                throw new RaException(Reason.INVALID_ARGUMENT, "publicKey", "required for signedBy");
            }
            X500Name issuerName = X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
            return build(issuerName, publicKey, issuerKey, issuer.getPublicKey());
        }

        private X500Name subjectName() throws RaException {
            if (subject == null) {
                throw new RaException(Reason.INVALID_ARGUMENT, "subject", "required");
            }
            X500NameBuilder nb = new X500NameBuilder(BCStyle.INSTANCE);
            if (organization != null) {
                nb.addRDN(BCStyle.O, organization);
            }
            nb.addRDN(BCStyle.CN, subject);
            return nb.build();
        }

        private X509Certificate build(X500Name issuerName, PublicKey subjectKey, PrivateKey signingKey,
                PublicKey issuerPublic) throws RaException {
            X500Name subjectName = subjectName();
            if (!P256Keys.isP256(subjectKey)) {
                throw new RaException(Reason.INVALID_ARGUMENT, "publicKey", "must be a P-256 key");
            }
            if (!(signingKey instanceof ECPrivateKey)
                    || ((ECPrivateKey) signingKey).getParams().getOrder().compareTo(P256Keys.ORDER) != 0) {
                throw new RaException(Reason.INVALID_ARGUMENT, "signingKey", "must be a P-256 private key");
            }
            if (appId != null && appId.length != APP_ID_BYTES) {
                throw new RaException(Reason.INVALID_ARGUMENT, "appId", "must be " + APP_ID_BYTES + " bytes, got "
                        + appId.length);
            }
            if (usage != null && usage.getBytes(StandardCharsets.UTF_8).length > MAX_USAGE_BYTES) {
                throw new RaException(Reason.INVALID_ARGUMENT, "usage", "longer than " + MAX_USAGE_BYTES + " bytes");
            }
            Instant nb = (notBefore != null ? notBefore : RCGEN_DEFAULT_NOT_BEFORE).truncatedTo(ChronoUnit.SECONDS);
            Instant na = (notAfter != null ? notAfter : clock.instant().plus(DEFAULT_VALIDITY))
                    .truncatedTo(ChronoUnit.SECONDS);
            if (nb.isBefore(FIRST_X509_SECOND) || na.isAfter(LAST_X509_SECOND)) {
                throw new RaException(Reason.INVALID_ARGUMENT, "validity", "X.509 times are years 0000..9999");
            }
            if (na.isBefore(nb)) {
                throw new RaException(Reason.INVALID_ARGUMENT, "notAfter", "before notBefore (" + na + " < " + nb + ")");
            }
            byte[] att = null;
            if (attestation != null) {
                att = VersionedAttestation.decode(attestation).stripped().encode();
            }
            byte[] spki = subjectKey.getEncoded();
            BigInteger sn = serial != null ? serial : randomSerial();
            try {
                X509v3CertificateBuilder b = new X509v3CertificateBuilder(issuerName, sn,
                        new Time(Date.from(nb)), new Time(Date.from(na)), subjectName,
                        SubjectPublicKeyInfo.getInstance(spki));
                if (!altNames.isEmpty()) {
                    List<GeneralName> names = new ArrayList<>();
                    for (String n : altNames) {
                        names.add(generalName(n));
                    }
                    b.addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(names.toArray(new GeneralName[0])));
                }
                int ku = KeyUsage.digitalSignature | (caLevel != null ? KeyUsage.keyCertSign | KeyUsage.cRLSign : 0);
                b.addExtension(Extension.keyUsage, true, new KeyUsage(ku));
                List<KeyPurposeId> ekus = new ArrayList<>();
                if (serverAuth) {
                    ekus.add(KeyPurposeId.id_kp_serverAuth);
                }
                if (clientAuth) {
                    ekus.add(KeyPurposeId.id_kp_clientAuth);
                }
                if (!ekus.isEmpty()) {
                    b.addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(ekus.toArray(new KeyPurposeId[0])));
                }
                if (caLevel != null) {
                    b.addExtension(Extension.subjectKeyIdentifier, false,
                            new SubjectKeyIdentifier(Arrays.copyOf(Hashes.sha256(spki), 20)));
                    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(caLevel));
                }
                if (appId != null) {
                    custom(b, OID_APP_ID, appId);
                }
                if (appInfo != null) {
                    custom(b, OID_APP_INFO, appInfo.encode());
                }
                if (usage != null) {
                    custom(b, OID_CERT_USAGE, usage.getBytes(StandardCharsets.UTF_8));
                }
                if (att != null) {
                    custom(b, OID_ATTESTATION, att);
                }
                ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(signingKey);
                X509CertificateHolder holder = b.build(signer);
                X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                        .generateCertificate(new ByteArrayInputStream(holder.getEncoded()));
                try {
                    cert.verify(issuerPublic);
                } catch (GeneralSecurityException e) {
                    throw new RaException(Reason.INVALID_ARGUMENT, "issuerKey",
                            "does not match the issuer certificate's public key");
                }
                return cert;
            } catch (CertIOException | OperatorCreationException | CertificateException e) {
                throw new RaException(Reason.CERT_MALFORMED, "certificate", "cannot be built: " + e.getClass()
                        .getSimpleName(), e);
            } catch (IOException e) {
                throw new RaException(Reason.CERT_MALFORMED, "certificate", "cannot be encoded", e);
            }
        }

        private static void custom(X509v3CertificateBuilder b, String oid, byte[] payload) throws CertIOException {
            b.addExtension(new ASN1ObjectIdentifier(oid), false, new DEROctetString(payload));
        }

        private static GeneralName generalName(String n) throws RaException {
            if (IPV4.matcher(n).matches() && validIpv4(n)) {
                return new GeneralName(GeneralName.iPAddress, n);
            }
            if (n.indexOf(':') >= 0 && n.indexOf('%') < 0 && n.matches("[0-9A-Fa-f:.]+")) {
                try {
                    InetAddress.getByName(n); // a literal: no lookup happens for text with ':'
                    return new GeneralName(GeneralName.iPAddress, n);
                } catch (IOException | IllegalArgumentException e) {
                    // not an IPv6 literal: a DNS name below
                }
            }
            for (int i = 0; i < n.length(); i++) {
                if (n.charAt(i) > 0x7e || n.charAt(i) < 0x20) {
                    throw new RaException(Reason.INVALID_ARGUMENT, "altNames", "a DNS name must be printable ASCII"
                            + " (IA5String)");
                }
            }
            return new GeneralName(GeneralName.dNSName, n);
        }

        private static boolean validIpv4(String n) {
            for (String p : n.split("\\.")) {
                if (Integer.parseInt(p) > 255) {
                    return false;
                }
            }
            return true;
        }

        private static BigInteger randomSerial() {
            BigInteger s;
            do {
                s = new BigInteger(159, RANDOM);
            } while (s.signum() == 0);
            return s;
        }
    }
}
