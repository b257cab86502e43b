package dev.atlas.tdx.internal;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.CRLException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Set;

/**
 * X.509 chain and CRL checks with the semantics dcap-qvl gets from webpki (docs/dcap-semantics.md):
 * path built from the end entity, the pinned anchor tried first; v3 only; inclusive validity; CA/EE roles
 * from BasicConstraints; unknown critical extensions rejected; every certificate in the path except the
 * anchor checked against the first supplied CRL whose issuer DN equals its issuer DN, a missing CRL being
 * an error; CRL expired when {@code now >= nextUpdate}.
 */
public final class Pki {
    /** Longest path accepted (end entity + intermediates). */
    public static final int MAX_PATH = 6;
    private static final Set<String> KNOWN_CRITICAL_CERT_EXTENSIONS = Set.of(
            "2.5.29.19", // basicConstraints
            "2.5.29.15", // keyUsage
            "2.5.29.37", // extendedKeyUsage
            "2.5.29.17"); // subjectAltName
    private static final Set<String> KNOWN_CRL_EXTENSIONS = Set.of(
            "2.5.29.20", // cRLNumber
            "2.5.29.35"); // authorityKeyIdentifier
    private static final String DELTA_CRL_INDICATOR = "2.5.29.27";
    private static final String ISSUING_DISTRIBUTION_POINT = "2.5.29.28";
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String ANY_EKU = "2.5.29.37.0";

    private static final ThreadLocal<CertificateFactory> FACTORY = ThreadLocal.withInitial(() -> {
        try {
            return CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException(e);
        }
    });

    private Pki() {}

    public static String sha256Hex(byte[] data) {
        try {
            return Hex.encode(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses one DER certificate; the bytes must be exactly one certificate. */
    public static X509Certificate parseCertificate(byte[] der) throws CertificateException {
        if (der.length == 0 || der.length > 64 * 1024) {
            throw new CertificateException("certificate of " + der.length + " bytes");
        }
        ByteArrayInputStream in = new ByteArrayInputStream(der);
        X509Certificate c = (X509Certificate) FACTORY.get().generateCertificate(in);
        if (in.available() != 0) {
            throw new CertificateException(in.available() + " bytes after the certificate");
        }
        return c;
    }

    /** Extracts and parses every PEM block; malformed PEM or DER is {@code malformedReason}. */
    public static List<X509Certificate> parseChain(String pem, Reason malformedReason, String what)
            throws AttestationException {
        List<byte[]> ders;
        try {
            ders = Pem.decodeAll(pem);
        } catch (IllegalArgumentException e) {
            throw new AttestationException(malformedReason, "Failed to extract certificates from " + what + ": "
                    + e.getMessage(), e);
        }
        List<X509Certificate> out = new ArrayList<>(ders.size());
        for (int i = 0; i < ders.size(); i++) {
            try {
                out.add(parseCertificate(ders.get(i)));
            } catch (CertificateException | RuntimeException e) {
                throw new AttestationException(malformedReason, "Failed to parse certificate " + i + " of " + what
                        + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(out);
    }

    /** Parses a CRL and applies webpki's CRL profile; any problem is {@link Reason#CRL_INVALID}. */
    public static X509CRL parseCrl(byte[] der, String what) throws AttestationException {
        X509CRL crl;
        try {
            if (der.length == 0 || der.length > 4 * 1024 * 1024) {
                throw new CRLException("CRL of " + der.length + " bytes");
            }
            ByteArrayInputStream in = new ByteArrayInputStream(der);
            crl = (X509CRL) FACTORY.get().generateCRL(in);
            if (in.available() != 0) {
                throw new CRLException(in.available() + " bytes after the CRL");
            }
        } catch (CRLException | RuntimeException e) {
            throw new AttestationException(Reason.CRL_INVALID, "Failed to parse CRL (" + what + "): " + e.getMessage(), e);
        }
        String bad = null;
        Set<String> critical = crl.getCriticalExtensionOIDs();
        Set<String> nonCritical = crl.getNonCriticalExtensionOIDs();
        if (crl.getVersion() != 2) {
            bad = "version " + crl.getVersion() + " (v2 required)";
        } else if (crl.getNextUpdate() == null) {
            bad = "no nextUpdate";
        } else if ((critical == null || critical.isEmpty()) && (nonCritical == null || nonCritical.isEmpty())) {
            bad = "no crlExtensions";
        } else if (crl.getExtensionValue(DELTA_CRL_INDICATOR) != null) {
            bad = "delta CRLs are not supported";
        } else if (crl.getExtensionValue(ISSUING_DISTRIBUTION_POINT) != null) {
            bad = "CRLs with an IssuingDistributionPoint are not supported";
        } else if (critical != null) {
            for (String oid : critical) {
                if (!KNOWN_CRL_EXTENSIONS.contains(oid)) {
                    bad = "unknown critical extension " + oid;
                }
            }
        }
        if (bad == null) {
            byte[] num = crl.getExtensionValue("2.5.29.20");
            if (num != null) {
                try {
                    Der.Tlv octets = Der.readSingle(num);
                    Der.Tlv integer = Der.readSingle(octets.content());
                    if (integer.tag != Der.TAG_INTEGER || integer.contentLength > 20) {
                        bad = "CRL number longer than 20 octets";
                    }
                } catch (IllegalArgumentException e) {
                    bad = "malformed CRL number";
                }
            }
        }
        if (bad != null) {
            throw new AttestationException(Reason.CRL_INVALID, "Failed to parse CRL (" + what + "): " + bad);
        }
        return crl;
    }

    /**
     * Revocation check of the trusted root itself (dcap-qvl's first step): the root's own CRL (by issuer
     * DN) must be present, signed by the root, current, and must not list the root.
     */
    public static void checkRootRevocation(X509Certificate root, List<X509CRL> crls, Instant now, SignatureMemo memo)
            throws AttestationException {
        X509CRL crl = crlFor(root, crls, "Intel SGX Root CA");
        verifyCrlSignature(crl, root.getPublicKey(), memo, "Intel SGX Root CA");
        checkCrlCurrent(crl, now, "root CA CRL");
        if (crl.getRevokedCertificate(root.getSerialNumber()) != null) {
            throw new AttestationException(Reason.CERT_REVOKED, "root CA revocation check: CertRevoked (the root CA"
                    + " serial " + root.getSerialNumber().toString(16) + " is listed in its own CRL)");
        }
    }

    /**
     * Validates {@code chain} (first = end entity) to {@code anchor} at {@code now}, with revocation from
     * {@code crls}. Returns the path used: end entity first, anchor excluded.
     */
    public static List<X509Certificate> verifyChain(List<X509Certificate> chain, X509Certificate anchor,
            List<X509CRL> crls, Instant now, SignatureMemo memo, String what) throws AttestationException {
        if (chain.isEmpty()) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Certificate chain is too short for " + what);
        }
        Date at = Date.from(now);
        List<X509Certificate> path = new ArrayList<>();
        X509Certificate cur = chain.get(0);
        path.add(cur);
        while (true) {
            int index = path.size() - 1;
            checkIssuerIndependent(cur, index, at, what);
            if (issuedBy(cur, anchor, memo)) {
                break;
            }
            X509Certificate next = null;
            for (int i = 1; i < chain.size(); i++) {
                X509Certificate cand = chain.get(i);
                if (containsSame(path, cand)) {
                    continue;
                }
                if (issuedBy(cur, cand, memo)) {
                    next = cand;
                    break;
                }
            }
            if (next == null) {
                throw new AttestationException(Reason.ROOT_CA_UNTRUSTED, "Failed to verify certificate chain ("
                        + what + "): UnknownIssuer: no issuer of '" + cur.getSubjectX500Principal().getName()
                        + "' leads to the trusted Intel SGX Root CA");
            }
            if (path.size() >= MAX_PATH) {
                throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Failed to verify certificate chain ("
                        + what + "): path longer than " + MAX_PATH);
            }
            int bc = next.getBasicConstraints();
            if (bc < 0) {
                throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Failed to verify certificate chain ("
                        + what + "): EndEntityUsedAsCa: '" + next.getSubjectX500Principal().getName() + "'");
            }
            if (bc < index) {
                throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Failed to verify certificate chain ("
                        + what + "): PathLenConstraintViolated at '" + next.getSubjectX500Principal().getName() + "'");
            }
            path.add(next);
            cur = next;
        }
        // Revocation of every certificate in the path (not the anchor), end entity first.
        for (int i = 0; i < path.size(); i++) {
            X509Certificate c = path.get(i);
            X509Certificate issuer = i + 1 < path.size() ? path.get(i + 1) : anchor;
            X509CRL crl = crlFor(c, crls, what);
            verifyCrlSignature(crl, issuer.getPublicKey(), memo, what);
            if (issuer != anchor) {
                boolean[] ku = issuer.getKeyUsage();
                if (ku != null && (ku.length <= 6 || !ku[6])) {
                    throw new AttestationException(Reason.CRL_INVALID, "Failed to verify certificate chain (" + what
                            + "): IssuerNotCrlSigner: '" + issuer.getSubjectX500Principal().getName() + "'");
                }
            }
            checkCrlCurrent(crl, now, what + " CRL of '" + crl.getIssuerX500Principal().getName() + "'");
            if (crl.getRevokedCertificate(c.getSerialNumber()) != null) {
                throw new AttestationException(Reason.CERT_REVOKED, "Failed to verify certificate chain (" + what
                        + "): CertRevoked: '" + c.getSubjectX500Principal().getName() + "' serial "
                        + c.getSerialNumber().toString(16));
            }
        }
        return List.copyOf(path);
    }

    private static boolean containsSame(List<X509Certificate> path, X509Certificate c) {
        for (X509Certificate p : path) {
            if (p == c || p.equals(c)) {
                return true;
            }
        }
        return false;
    }

    private static void checkIssuerIndependent(X509Certificate c, int index, Date at, String what)
            throws AttestationException {
        String name = "'" + c.getSubjectX500Principal().getName() + "'";
        String prefix = "Failed to verify certificate chain (" + what + "): ";
        if (c.getVersion() != 3) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, prefix + "UnsupportedCertVersion: " + name);
        }
        try {
            c.checkValidity(at);
        } catch (CertificateExpiredException e) {
            throw new AttestationException(Reason.CERT_EXPIRED, prefix + "CertExpired: " + name + " notAfter "
                    + c.getNotAfter().toInstant() + " < now " + at.toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new AttestationException(Reason.CERT_NOT_YET_VALID, prefix + "CertNotValidYet: " + name
                    + " notBefore " + c.getNotBefore().toInstant() + " > now " + at.toInstant());
        }
        Set<String> critical = c.getCriticalExtensionOIDs();
        if (critical != null) {
            for (String oid : critical) {
                if (!KNOWN_CRITICAL_CERT_EXTENSIONS.contains(oid)) {
                    throw new AttestationException(Reason.CERT_CHAIN_INVALID, prefix
                            + "UnsupportedCriticalExtension " + oid + " in " + name);
                }
            }
        }
        if (index == 0 && c.getBasicConstraints() >= 0) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, prefix + "CaUsedAsEndEntity: " + name);
        }
        try {
            List<String> eku = c.getExtendedKeyUsage();
            if (eku != null && !eku.contains(SERVER_AUTH) && !eku.contains(ANY_EKU)) {
                throw new AttestationException(Reason.CERT_CHAIN_INVALID, prefix + "RequiredEkuNotFound: " + name);
            }
        } catch (java.security.cert.CertificateParsingException e) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, prefix + "BadDer in EKU of " + name, e);
        }
    }

    /** True when {@code issuer}'s subject equals {@code c}'s issuer (DER-equal) and its key verifies {@code c}. */
    public static boolean issuedBy(X509Certificate c, X509Certificate issuer, SignatureMemo memo) {
        if (!Arrays.equals(c.getIssuerX500Principal().getEncoded(), issuer.getSubjectX500Principal().getEncoded())) {
            return false;
        }
        PublicKey key = issuer.getPublicKey();
        try {
            byte[] tbs = c.getTBSCertificate();
            SignatureMemo.Key k = SignatureMemo.key("x509:" + c.getSigAlgName(), key, tbs, c.getSignature());
            if (memo.contains(k)) {
                return true;
            }
            c.verify(key);
            memo.remember(k);
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    private static X509CRL crlFor(X509Certificate c, List<X509CRL> crls, String what) throws AttestationException {
        byte[] issuer = c.getIssuerX500Principal().getEncoded();
        for (X509CRL crl : crls) {
            if (Arrays.equals(issuer, crl.getIssuerX500Principal().getEncoded())) {
                return crl;
            }
        }
        throw new AttestationException(Reason.CRL_MISSING, "Failed to verify certificate chain (" + what
                + "): UnknownRevocationStatus: no CRL from '" + c.getIssuerX500Principal().getName() + "' for '"
                + c.getSubjectX500Principal().getName() + "'");
    }

    private static void verifyCrlSignature(X509CRL crl, PublicKey key, SignatureMemo memo, String what)
            throws AttestationException {
        try {
            SignatureMemo.Key k = SignatureMemo.key("crl:" + crl.getSigAlgName(), key, crl.getTBSCertList(),
                    crl.getSignature());
            if (memo.contains(k)) {
                return;
            }
            crl.verify(key);
            memo.remember(k);
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new AttestationException(Reason.CRL_INVALID, "InvalidCrlSignatureForPublicKey: CRL of '"
                    + crl.getIssuerX500Principal().getName() + "' (" + what + ")");
        }
    }

    private static void checkCrlCurrent(X509CRL crl, Instant now, String what) throws AttestationException {
        Instant next = crl.getNextUpdate().toInstant();
        if (!now.isBefore(next)) {
            throw new AttestationException(Reason.CRL_EXPIRED, "CrlExpired: " + what + " nextUpdate " + next
                    + " <= now " + now);
        }
    }
}
