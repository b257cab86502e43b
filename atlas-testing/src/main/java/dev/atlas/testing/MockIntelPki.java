package dev.atlas.testing;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Enumerated;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CRLHolder;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v2CRLBuilder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CRLConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A mock Intel SGX/TDX PKI shaped like Intel's: a self-signed root, a TCB signing certificate issued by
 * the root (signs TCB info and QE identity), a PCK Platform CA issued by the root, and a PCK leaf with
 * Intel's SGX extension; a root CRL and a PCK CA CRL. Deterministic from a seed (keys, serials and
 * signatures). Each certificate's validity, CA flag, revocation and the CRLs' dates and signers can be
 * changed one at a time, in the spirit of OkHttp's {@code HeldCertificate}.
 */
public final class MockIntelPki {
    /** The certificates of the hierarchy. */
    public enum Role { ROOT, TCB_SIGNER, PCK_CA, PCK_LEAF }

    /** The two CRLs. */
    public enum CrlRole { ROOT_CRL, PCK_CRL }

    static final String SGX_EXT = "1.2.840.113741.1.13.1";

    private final Map<Role, KeyPair> keys = new EnumMap<>(Role.class);
    private final Map<Role, X509Certificate> certs = new EnumMap<>(Role.class);
    private final X509CRL rootCrl;
    private final X509CRL pckCrl;
    private final SgxExtension sgxExtension;

    private MockIntelPki(Builder b) throws GeneralSecurityException {
        SecureRandom rnd = Seeds.random(b.seed, "pki");
        for (Role r : Role.values()) {
            keys.put(r, generate(rnd));
        }
        this.sgxExtension = b.sgxExtension;
        try {
            X500Name root = new X500Name("CN=Mock Intel SGX Root CA,O=atlas-testing,L=Santa Clara,ST=CA,C=US");
            X500Name tcb = new X500Name("CN=Mock Intel SGX TCB Signing,O=atlas-testing,L=Santa Clara,ST=CA,C=US");
            X500Name pckCa = new X500Name("CN=Mock Intel SGX PCK Platform CA,O=atlas-testing,L=Santa Clara,ST=CA,C=US");
            X500Name leaf = new X500Name("CN=Mock Intel SGX PCK Certificate,O=atlas-testing,L=Santa Clara,ST=CA,C=US");
            certs.put(Role.ROOT, cert(b, Role.ROOT, root, root, keys.get(Role.ROOT).getPrivate(), rnd));
            certs.put(Role.TCB_SIGNER, cert(b, Role.TCB_SIGNER, tcb, root, keys.get(Role.ROOT).getPrivate(), rnd));
            certs.put(Role.PCK_CA, cert(b, Role.PCK_CA, pckCa, root, keys.get(Role.ROOT).getPrivate(), rnd));
            certs.put(Role.PCK_LEAF, cert(b, Role.PCK_LEAF, leaf, pckCa, keys.get(Role.PCK_CA).getPrivate(), rnd));

            List<BigInteger> rootRevoked = new ArrayList<>();
            List<BigInteger> pckRevoked = new ArrayList<>();
            for (Role r : b.revoked) {
                (r == Role.PCK_LEAF ? pckRevoked : rootRevoked).add(certs.get(r).getSerialNumber());
            }
            PrivateKey rootCrlSigner = b.crlWrongSigner.contains(CrlRole.ROOT_CRL) ? keys.get(Role.TCB_SIGNER).getPrivate()
                    : keys.get(Role.ROOT).getPrivate();
            PrivateKey pckCrlSigner = b.crlWrongSigner.contains(CrlRole.PCK_CRL) ? keys.get(Role.TCB_SIGNER).getPrivate()
                    : keys.get(Role.PCK_CA).getPrivate();
            this.rootCrl = crl(root, rootCrlSigner, b, CrlRole.ROOT_CRL, rootRevoked, rnd);
            this.pckCrl = crl(pckCa, pckCrlSigner, b, CrlRole.PCK_CRL, pckRevoked, rnd);
        } catch (java.io.IOException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private static KeyPair generate(SecureRandom rnd) throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), rnd);
        return g.generateKeyPair();
    }

    private X509Certificate cert(Builder b, Role role, X500Name subject, X500Name issuer, PrivateKey signer,
            SecureRandom rnd) throws java.io.IOException, GeneralSecurityException,
            org.bouncycastle.operator.OperatorCreationException {
        Instant nb = b.notBefore.getOrDefault(role, b.validFrom);
        Instant na = b.notAfter.getOrDefault(role, b.validFrom.plus(Duration.ofDays(3650)));
        BigInteger serial = new BigInteger(1, Seeds.bytes(rnd, 16));
        X509v3CertificateBuilder cb = new JcaX509v3CertificateBuilder(issuer, serial, Date.from(nb), Date.from(na),
                subject, keys.get(role).getPublic());
        boolean ca = b.caFlag.getOrDefault(role, role == Role.ROOT || role == Role.PCK_CA);
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        if (ca) {
            cb.addExtension(Extension.basicConstraints, true, role == Role.ROOT ? new BasicConstraints(1)
                    : new BasicConstraints(0));
            cb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            cb.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            cb.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.nonRepudiation));
        }
        cb.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.get(role).getPublic()));
        if (b.unknownCriticalExtension.contains(role)) {
            cb.addExtension(new ASN1ObjectIdentifier("1.3.6.1.4.1.55555.1"), true, new DEROctetString(new byte[] {1}));
        }
        if (role == Role.PCK_LEAF && sgxExtension != null) {
            cb.addExtension(new ASN1ObjectIdentifier(SGX_EXT), false, sgxExtension.toAsn1());
        }
        ContentSigner cs = new JcaContentSignerBuilder("SHA256withECDSA").setSecureRandom(rnd).build(signer);
        X509CertificateHolder h = cb.build(cs);
        return new JcaX509CertificateConverter().getCertificate(h);
    }

    private static X509CRL crl(X500Name issuer, PrivateKey signer, Builder b, CrlRole role, List<BigInteger> revoked,
            SecureRandom rnd) throws java.io.IOException, GeneralSecurityException,
            org.bouncycastle.operator.OperatorCreationException {
        Instant thisUpdate = b.crlThisUpdate.getOrDefault(role, b.validFrom);
        Instant nextUpdate = b.crlNextUpdate.getOrDefault(role, b.validFrom.plus(Duration.ofDays(3650)));
        X509v2CRLBuilder cb = new X509v2CRLBuilder(issuer, Date.from(thisUpdate));
        cb.setNextUpdate(Date.from(nextUpdate));
        for (BigInteger s : revoked) {
            cb.addCRLEntry(s, Date.from(thisUpdate), 0);
        }
        cb.addExtension(Extension.cRLNumber, false, new CRLNumber(BigInteger.ONE));
        ContentSigner cs = new JcaContentSignerBuilder("SHA256withECDSA").setSecureRandom(rnd).build(signer);
        X509CRLHolder h = cb.build(cs);
        return new JcaX509CRLConverter().getCRL(h);
    }

    public X509Certificate certificate(Role role) {
        return certs.get(role);
    }

    public PrivateKey privateKey(Role role) {
        return keys.get(role).getPrivate();
    }

    public java.security.PublicKey publicKey(Role role) {
        return keys.get(role).getPublic();
    }

    public X509Certificate rootCertificate() {
        return certs.get(Role.ROOT);
    }

    public byte[] rootCaCrlDer() {
        try {
            return rootCrl.getEncoded();
        } catch (java.security.cert.CRLException e) {
            throw new IllegalStateException(e);
        }
    }

    public byte[] pckCrlDer() {
        try {
            return pckCrl.getEncoded();
        } catch (java.security.cert.CRLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** PEM of the given certificates, in order. */
    public String pem(Role... roles) {
        StringBuilder sb = new StringBuilder();
        for (Role r : roles) {
            sb.append(pem(certs.get(r)));
        }
        return sb.toString();
    }

    public static String pem(X509Certificate c) {
        try {
            return "-----BEGIN CERTIFICATE-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(c.getEncoded())
                    + "\n-----END CERTIFICATE-----\n";
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** TCB signing chain as Intel ships it: signer, root. */
    public String tcbSigningChainPem() {
        return pem(Role.TCB_SIGNER, Role.ROOT);
    }

    /** PCK chain as it sits in a quote: leaf, PCK CA, root. */
    public String pckChainPem() {
        return pem(Role.PCK_LEAF, Role.PCK_CA, Role.ROOT);
    }

    /** The values written into the PCK leaf's SGX extension, or null when it was left out. */
    public SgxExtension sgxExtension() {
        return sgxExtension;
    }

    /** Intel's SGX extension values (FMSPC, CPUSVN, PCESVN, PPID, PCE-ID, SGX type). */
    public static final class SgxExtension {
        final byte[] ppid;
        final byte[] cpuSvn;
        final int pceSvn;
        final byte[] pceId;
        final byte[] fmspc;
        final int sgxType;

        public SgxExtension(byte[] ppid, byte[] cpuSvn, int pceSvn, byte[] pceId, byte[] fmspc, int sgxType) {
            this.ppid = ppid.clone();
            this.cpuSvn = cpuSvn.clone();
            this.pceSvn = pceSvn;
            this.pceId = pceId.clone();
            this.fmspc = fmspc.clone();
            this.sgxType = sgxType;
        }

        /** The defaults used by {@link DcapEvidence}: FMSPC 00906ED50000, CPUSVN 04040202..., PCESVN 11. */
        public static SgxExtension defaults() {
            return new SgxExtension(Seeds.hex("0102030405060708090a0b0c0d0e0f10"),
                    Seeds.hex("04040202040100050000000000000000"), 11, Seeds.hex("0000"), Seeds.hex("00906ED50000"), 1);
        }

        public byte[] fmspc() {
            return fmspc.clone();
        }

        public byte[] cpuSvn() {
            return cpuSvn.clone();
        }

        public int pceSvn() {
            return pceSvn;
        }

        public byte[] ppid() {
            return ppid.clone();
        }

        public SgxExtension withFmspc(byte[] v) {
            return new SgxExtension(ppid, cpuSvn, pceSvn, pceId, v, sgxType);
        }

        public SgxExtension withCpuSvn(byte[] v) {
            return new SgxExtension(ppid, v, pceSvn, pceId, fmspc, sgxType);
        }

        public SgxExtension withPceSvn(int v) {
            return new SgxExtension(ppid, cpuSvn, v, pceId, fmspc, sgxType);
        }

        DERSequence toAsn1() {
            String b = SGX_EXT;
            List<ASN1Encodable> tcb = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                tcb.add(entry(b + ".2." + (i + 1), new ASN1Integer(cpuSvn[i] & 0xff)));
            }
            tcb.add(entry(b + ".2.17", new ASN1Integer(pceSvn)));
            tcb.add(entry(b + ".2.18", new DEROctetString(cpuSvn)));
            return new DERSequence(new ASN1Encodable[] {
                entry(b + ".1", new DEROctetString(ppid)),
                entry(b + ".2", new DERSequence(tcb.toArray(new ASN1Encodable[0]))),
                entry(b + ".3", new DEROctetString(pceId)),
                entry(b + ".4", new DEROctetString(fmspc)),
                entry(b + ".5", new ASN1Enumerated(sgxType)),
            });
        }

        private static DERSequence entry(String oid, ASN1Encodable v) {
            return new DERSequence(new ASN1Encodable[] {new ASN1ObjectIdentifier(oid), v});
        }
    }

    /** Builder; every option changes exactly one thing. */
    public static final class Builder {
        private long seed = 1;
        private Instant validFrom = Instant.parse("2025-01-01T00:00:00Z");
        private final Map<Role, Instant> notBefore = new EnumMap<>(Role.class);
        private final Map<Role, Instant> notAfter = new EnumMap<>(Role.class);
        private final Map<Role, Boolean> caFlag = new EnumMap<>(Role.class);
        private final Set<Role> revoked = EnumSet.noneOf(Role.class);
        private final Set<Role> unknownCriticalExtension = EnumSet.noneOf(Role.class);
        private final Map<CrlRole, Instant> crlThisUpdate = new EnumMap<>(CrlRole.class);
        private final Map<CrlRole, Instant> crlNextUpdate = new EnumMap<>(CrlRole.class);
        private final Set<CrlRole> crlWrongSigner = EnumSet.noneOf(CrlRole.class);
        private SgxExtension sgxExtension = SgxExtension.defaults();

        private Builder() {}

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Start of every validity period and CRL thisUpdate; everything else lasts 10 years from here. */
        public Builder validFrom(Instant t) {
            this.validFrom = Objects.requireNonNull(t);
            return this;
        }

        public Builder notBefore(Role r, Instant t) {
            notBefore.put(r, t);
            return this;
        }

        public Builder notAfter(Role r, Instant t) {
            notAfter.put(r, t);
            return this;
        }

        /** Make {@code r} a CA (or not) against the usual shape. */
        public Builder ca(Role r, boolean ca) {
            caFlag.put(r, ca);
            return this;
        }

        /** List {@code r}'s serial in its issuer's CRL (the root in the root CRL). */
        public Builder revoke(Role r) {
            revoked.add(r);
            return this;
        }

        /** Add an unknown critical extension to {@code r}. */
        public Builder unknownCriticalExtension(Role r) {
            unknownCriticalExtension.add(r);
            return this;
        }

        public Builder crlThisUpdate(CrlRole r, Instant t) {
            crlThisUpdate.put(r, t);
            return this;
        }

        public Builder crlNextUpdate(CrlRole r, Instant t) {
            crlNextUpdate.put(r, t);
            return this;
        }

        /** Sign the CRL with the TCB signer's key instead of its issuer's. */
        public Builder crlSignedByWrongKey(CrlRole r) {
            crlWrongSigner.add(r);
            return this;
        }

        /** The PCK leaf's SGX extension; null leaves it out. */
        public Builder sgxExtension(SgxExtension ext) {
            this.sgxExtension = ext;
            return this;
        }

        public MockIntelPki build() {
            try {
                return new MockIntelPki(this);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("cannot build the mock PKI", e);
            }
        }
    }
}
