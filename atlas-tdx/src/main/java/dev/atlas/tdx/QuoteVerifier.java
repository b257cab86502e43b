package dev.atlas.tdx;

import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Bytes;
import dev.atlas.tdx.internal.Dates;
import dev.atlas.tdx.internal.Ecdsa;
import dev.atlas.tdx.internal.Hex;
import dev.atlas.tdx.internal.Pem;
import dev.atlas.tdx.internal.Pki;
import dev.atlas.tdx.internal.SignatureMemo;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Verifies Intel DCAP quotes (SGX v3, TDX v4/v5) against collateral, with the semantics and step order of
 * Phala's dcap-qvl 0.5 (documented, with every deviation, in {@code docs/dcap-semantics.md}).
 *
 * <h2>Security guarantees</h2>
 * <ul>
 *   <li>The trust anchor is the Intel SGX Root CA, pinned by the SHA-256 fingerprint of its DER encoding
 *       ({@link #INTEL_SGX_ROOT_CA_SHA256}). The root certificate is taken from the chains in the collateral
 *       or the quote and trusted only if its fingerprint matches. Another anchor can only be set through
 *       {@link Builder#insecureTrustAnchorForTesting(X509Certificate)}.</li>
 *   <li>No check can be skipped. Debug workloads and TD 1.5 service TDs are rejected unless explicitly
 *       allowed; a debug QE is always rejected.</li>
 *   <li>Time is an input: {@link #verify(byte[], Collateral, Instant)} uses only the instant it is given;
 *       {@link #verify(byte[], Collateral)} reads the configured {@link Clock} once, on entry.</li>
 *   <li>Only pure results are reused between calls: successful signature checks (keyed by key, signed
 *       bytes and signature) and parsed certificates. Every time-dependent check (validity periods, CRL
 *       and collateral expiry) and every revocation lookup runs on every call.</li>
 * </ul>
 *
 * <p>Thread-safe; meant to be built once and shared.
 */
public final class QuoteVerifier {
    /** SHA-256 of the DER of the Intel SGX Root CA (CN=Intel SGX Root CA, serial 22650CD6...06AC). */
    public static final String INTEL_SGX_ROOT_CA_SHA256 =
            "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

    private static final int QE_AUTH_DATA_SIZE = 32;

    private final String anchorFingerprint;
    private final X509Certificate testAnchor;
    private final boolean allowDebug;
    private final boolean allowServiceTd;
    private final Clock clock;
    private final SignatureMemo memo;
    private final boolean cacheCertificates;
    private final Map<String, Object> pemChainCache = new ConcurrentHashMap<>();
    /** Verifications started (for tests that prove a path verifies exactly once). */
    private final java.util.concurrent.atomic.LongAdder verifications = new java.util.concurrent.atomic.LongAdder();

    private QuoteVerifier(Builder b) {
        this.testAnchor = b.testAnchor;
        this.anchorFingerprint = b.testAnchor != null ? fingerprint(b.testAnchor) : INTEL_SGX_ROOT_CA_SHA256;
        this.allowDebug = b.allowDebug;
        this.allowServiceTd = b.allowServiceTd;
        this.clock = b.clock;
        this.memo = new SignatureMemo(b.cacheCapacity);
        this.cacheCertificates = b.cacheCapacity > 0;
    }

    /** A verifier with the production anchor and all checks on. */
    public static QuoteVerifier create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** How many verifications this verifier has started (package-private: for tests). */
    long verificationCount() {
        return verifications.sum();
    }

    /** True when this verifier trusts a test anchor instead of the Intel SGX Root CA. */
    public boolean usesTestAnchor() {
        return testAnchor != null;
    }

    /** Verifies at the configured clock's current instant (read once). */
    public VerifiedReport verify(byte[] quote, Collateral collateral) throws AttestationException {
        return verify(quote, collateral, clock.instant());
    }

    /**
     * Verifies {@code quote} against {@code collateral} at {@code now} (truncated to whole seconds, as the
     * reference compares in seconds).
     *
     * @throws AttestationException naming the failed check; never returns a Revoked status
     */
    public VerifiedReport verify(byte[] quote, Collateral collateral, Instant now) throws AttestationException {
        Objects.requireNonNull(quote, "quote");
        Quote parsed;
        AttestationException parseFailure = null;
        try {
            parsed = Quote.parse(quote);
        } catch (AttestationException e) {
            // Reported at step 3, after the anchor and root revocation checks, as before.
            parsed = null;
            parseFailure = e;
        }
        return verify(parsed, parseFailure, collateral, now);
    }

    /** Verifies an already parsed quote at the configured clock's current instant (read once). */
    public VerifiedReport verify(Quote quote, Collateral collateral) throws AttestationException {
        return verify(quote, collateral, clock.instant());
    }

    /**
     * Verifies an already parsed {@code quote} against {@code collateral} at {@code now} (truncated to whole
     * seconds). The quote is not parsed again; use this overload when the caller has parsed it already (as
     * {@code DstackTdxVerifier} and {@link CollateralSource} do).
     *
     * @throws AttestationException naming the failed check; never returns a Revoked status
     */
    public VerifiedReport verify(Quote quote, Collateral collateral, Instant now) throws AttestationException {
        Objects.requireNonNull(quote, "quote");
        return verify(quote, null, collateral, now);
    }

    private VerifiedReport verify(Quote parsed, AttestationException parseFailure, Collateral collateral, Instant now)
            throws AttestationException {
        Objects.requireNonNull(collateral, "collateral");
        Objects.requireNonNull(now, "now");
        verifications.increment();
        final Instant at = Instant.ofEpochSecond(now.getEpochSecond());
        final long nowSecs = at.getEpochSecond();
        CollateralParts parts = collateral.parts;

        // 0. Trust anchor: the pinned root, found among the supplied chains.
        X509Certificate anchor = resolveAnchor(collateral, parsed);

        // 1-2. Root CA revocation, then both CRLs parsed (strict profile).
        X509CRL rootCrl = parts.rootCaCrl();
        X509CRL pckCrl = parts.pckCrl();
        List<X509CRL> crls = List.of(rootCrl, pckCrl);
        Pki.checkRootRevocation(anchor, crls, at, memo);

        // 3. Decode the quote (done once, by the caller or the byte[] overload; its failure is reported here).
        if (parseFailure != null) {
            throw parseFailure;
        }
        Quote q = parsed;
        QuoteHeader h = q.header();
        // 5. QE vendor.
        if (!QuoteHeader.INTEL_QE_VENDOR_ID.equals(h.qeVendorId())) {
            throw new AttestationException(Reason.UNKNOWN_QE_VENDOR, "Unknown QE vendor ID: expected "
                    + QuoteHeader.INTEL_QE_VENDOR_ID + ", got " + h.qeVendorId());
        }
        // 6. TEE type.
        TeeType tee = h.teeType();
        if (tee == null) {
            throw new AttestationException(Reason.UNSUPPORTED_TEE_TYPE, "Unsupported TEE type: " + h.teeTypeCode());
        }
        // 7. Version per TEE.
        if (tee == TeeType.SGX && h.version() != 3) {
            throw new AttestationException(Reason.UNSUPPORTED_VERSION, "SGX TEE quote must have version 3, got "
                    + h.version());
        }
        if (tee == TeeType.TDX && h.version() != 4 && h.version() != 5) {
            throw new AttestationException(Reason.UNSUPPORTED_VERSION, "TDX TEE quote must have version 4 or 5, got "
                    + h.version());
        }
        if (tee == TeeType.TDX && q.tdReport() == null || tee == TeeType.SGX && q.enclaveReport() == null) {
            throw new AttestationException(Reason.UNSUPPORTED_TEE_TYPE, "TEE type " + tee + " does not match body "
                    + q.bodyType());
        }
        // 8. Attestation key type.
        if (h.attestationKeyType() != 2) {
            throw new AttestationException(Reason.UNSUPPORTED_ATTESTATION_KEY_TYPE,
                    "Unsupported DCAP attestation key type " + h.attestationKeyType() + " (only 2, ECDSA-256-with-P-256)");
        }

        // 9. TCB info: decode, dates, chain, signature.
        TcbInfo tcbInfo = parts.tcbInfo();
        checkDates("TCBInfo", "TCB Info", tcbInfo.issueDate(), tcbInfo.nextUpdate(), nowSecs);
        List<X509Certificate> tcbChain = parts.tcbInfoIssuerChain();
        if (tcbChain.isEmpty()) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Certificate chain is too short for TCB Info");
        }
        Pki.verifyChain(tcbChain, anchor, crls, at, memo, "TCB Info issuer chain");
        byte[] tcbBytes = collateral.tcbInfo().getBytes(StandardCharsets.UTF_8);
        if (!Ecdsa.verifyP1363(memo, tcbChain.get(0).getPublicKey(), tcbBytes, 0, tcbBytes.length,
                collateral.tcbInfoSignatureUnsafe())) {
            throw new AttestationException(Reason.TCB_INFO_SIGNATURE_INVALID,
                    "Signature is invalid for tcb_info in quote_collateral");
        }
        // 10. Canonical level order.
        List<TcbInfo.TcbLevel> levels = sortedLevels(tcbInfo);

        // 11. QE identity: decode, dates, chain, signature.
        QeIdentity qeId = parts.qeIdentity();
        checkDates("QE Identity", "QE Identity", qeId.issueDate(), qeId.nextUpdate(), nowSecs);
        List<X509Certificate> qeChain = parts.qeIdentityIssuerChain();
        if (qeChain.isEmpty()) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Certificate chain is too short for QE Identity");
        }
        Pki.verifyChain(qeChain, anchor, crls, at, memo, "QE Identity issuer chain");
        byte[] qeBytes = collateral.qeIdentity().getBytes(StandardCharsets.UTF_8);
        if (!Ecdsa.verifyP1363(memo, qeChain.get(0).getPublicKey(), qeBytes, 0, qeBytes.length,
                collateral.qeIdentitySignatureUnsafe())) {
            throw new AttestationException(Reason.QE_IDENTITY_SIGNATURE_INVALID,
                    "Signature is invalid for qe_identity in quote_collateral");
        }
        // 12. QE identity kind fits the TEE.
        boolean qeOk = tee == TeeType.SGX ? "QE".equals(qeId.id()) && qeId.version() == 2
                : "TD_QE".equals(qeId.id()) && (qeId.version() == 2 || qeId.version() == 3);
        if (!qeOk) {
            throw new AttestationException(Reason.QE_IDENTITY_UNSUPPORTED, "Unsupported QE Identity id/version for the"
                    + " quote TEE type: " + qeId.id() + " version " + qeId.version() + " (expected "
                    + (tee == TeeType.SGX ? "QE version [2]" : "TD_QE version [2, 3]") + ")");
        }

        // 13. PCK chain and its SGX extension.
        List<X509Certificate> pckChain;
        if (collateral.pckCertificateChain() != null) {
            pckChain = parts.pckCertificateChain();
        } else {
            CertificationData cd = q.certificationData();
            if (cd.type() != CertificationData.TYPE_PCK_CERT_CHAIN) {
                throw new AttestationException(Reason.UNSUPPORTED_CERTIFICATION_DATA, "Unsupported DCAP PCK cert format: "
                        + cd.type() + " (only 5, a PEM chain, unless the collateral carries pck_certificate_chain)");
            }
            pckChain = quoteChain(cd.bodyAsText());
        }
        if (pckChain.isEmpty()) {
            throw new AttestationException(Reason.CERT_CHAIN_INVALID, "Certificate chain is too short in quote");
        }
        Pki.verifyChain(pckChain, anchor, crls, at, memo, "PCK certificate chain");
        X509Certificate pckLeaf = pckChain.get(0);
        PckExtension pck = PckExtension.fromCertificate(pckLeaf);

        // 14. QE report signature by the PCK key.
        byte[] qeReport = q.qeReport().toByteArray();
        if (!Ecdsa.verifyP1363(memo, pckLeaf.getPublicKey(), qeReport, 0, qeReport.length, q.qeReportSignatureUnsafe())) {
            throw new AttestationException(Reason.QE_REPORT_SIGNATURE_INVALID, "Signature is invalid for qe_report in quote");
        }
        // 15. QE report data binds the attestation key.
        byte[] auth = q.qeAuthDataUnsafe();
        if (auth.length != QE_AUTH_DATA_SIZE) {
            throw new AttestationException(Reason.QE_AUTH_DATA_INVALID, "Invalid QE auth data length: expected "
                    + QE_AUTH_DATA_SIZE + ", got " + auth.length);
        }
        byte[] expect = sha256(Bytes.concat(q.attestationKeyUnsafe(), auth));
        byte[] got = Bytes.slice(q.qeReport().reportDataBytes(), 0, 32);
        if (!MessageDigest.isEqual(expect, got)) {
            throw new AttestationException(Reason.QE_REPORT_DATA_MISMATCH, "QE report hash mismatch: SHA-256(attestation"
                    + " key || QE auth data) = " + Hex.encode(expect) + ", QE report_data[0..32] = " + Hex.encode(got));
        }
        // 16. QE identity policy.
        TcbStatusWithAdvisory qeStatus = checkQeIdentity(q.qeReport(), qeId);

        // 17. Quote signature by the attestation key.
        ECPublicKey attKey = Ecdsa.p256Key(q.attestationKeyUnsafe());
        if (attKey == null || !Ecdsa.verifyP1363(attKey, q.rawUnsafe(), 0, q.signedLength(), q.quoteSignatureUnsafe())) {
            throw new AttestationException(Reason.QUOTE_SIGNATURE_INVALID, attKey == null
                    ? "ISV enclave report signature is invalid: the attestation key is not a P-256 point"
                    : "ISV enclave report signature is invalid");
        }

        // 18. Platform TCB level (and TDX module).
        Match platform = matchPlatform(q, tee, tcbInfo, levels, pck);
        // 19. Merge and reject Revoked.
        TcbStatusWithAdvisory finalStatus = platform.status().merge(qeStatus);
        if (finalStatus.status() == TcbStatus.REVOKED) {
            throw new AttestationException(Reason.TCB_REVOKED, "TCB status is invalid: Revoked (platform "
                    + platform.status() + ", QE " + qeStatus + ")");
        }
        // 20. Attributes.
        validateAttributes(q);
        return new VerifiedReport(q, finalStatus, platform.status(), qeStatus, platform.tcbDate(), platform.levelStatus(),
                pck, tcbInfo.tcbEvaluationDataNumber(), at);
    }

    // ------------------------------------------------------------------------------------------------

    private X509Certificate resolveAnchor(Collateral c, Quote quote) throws AttestationException {
        if (testAnchor != null) {
            return testAnchor;
        }
        X509Certificate found = findByFingerprint(c.tcbInfoIssuerChain());
        if (found == null) {
            found = findByFingerprint(c.qeIdentityIssuerChain());
        }
        if (found == null) {
            found = findByFingerprint(c.pckCrlIssuerChain());
        }
        if (found == null && c.pckCertificateChain() != null) {
            found = findByFingerprint(c.pckCertificateChain());
        }
        if (found == null && quote != null) {
            // A quote that did not decode has its error reported at its step; here it only means "no root found".
            CertificationData cd = quote.certificationData();
            if (cd.type() == CertificationData.TYPE_PCK_CERT_CHAIN) {
                found = findByFingerprint(cd.bodyAsText());
            }
        }
        if (found == null) {
            throw new AttestationException(Reason.ROOT_CA_UNTRUSTED, "Failed to load root ca: no certificate with the"
                    + " pinned Intel SGX Root CA SHA-256 fingerprint " + anchorFingerprint
                    + " is present in the collateral or quote chains");
        }
        return found;
    }

    private X509Certificate findByFingerprint(String pem) {
        List<byte[]> ders;
        try {
            ders = Pem.decodeAll(pem);
        } catch (IllegalArgumentException e) {
            return null;
        }
        for (byte[] der : ders) {
            if (Pki.sha256Hex(der).equals(anchorFingerprint)) {
                try {
                    return Pki.parseCertificate(der);
                } catch (CertificateException | RuntimeException e) {
                    return null;
                }
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    private List<X509Certificate> quoteChain(String pem) throws AttestationException {
        if (cacheCertificates) {
            Object cached = pemChainCache.get(pem);
            if (cached != null) {
                return (List<X509Certificate>) cached;
            }
        }
        List<X509Certificate> chain = Pki.parseChain(pem, Reason.MALFORMED_QUOTE, "the quote's PCK certificate chain");
        if (cacheCertificates) {
            if (pemChainCache.size() >= 1024) {
                pemChainCache.clear();
            }
            pemChainCache.put(pem, chain);
        }
        return chain;
    }

    private static String fingerprint(X509Certificate c) {
        try {
            return Pki.sha256Hex(c.getEncoded());
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalArgumentException("cannot encode the test anchor", e);
        }
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void checkDates(String errName, String parseName, String issue, String next, long now)
            throws AttestationException {
        long issueSecs = Dates.epochSeconds(issue, "Failed to parse " + parseName + " issue date");
        long nextSecs = Dates.epochSeconds(next, "Failed to parse " + parseName + " next update");
        if (now < issueSecs) {
            throw new AttestationException(Reason.COLLATERAL_NOT_YET_VALID, errName + " issue date is in the future: issueDate "
                    + issue + " > now " + Instant.ofEpochSecond(now));
        }
        if (now > nextSecs) {
            throw new AttestationException(Reason.COLLATERAL_EXPIRED, errName + " expired: nextUpdate " + next
                    + " < now " + Instant.ofEpochSecond(now));
        }
    }

    /** RFC 3339 text to epoch seconds; {@link Reason#MALFORMED_COLLATERAL} with {@code msg} otherwise. */
    /** Stable sort: SGX components desc, then PCESVN desc, then (TDX TCB info only) TDX components desc. */
    static List<TcbInfo.TcbLevel> sortedLevels(TcbInfo info) {
        boolean tdx = info.isTdx();
        Comparator<TcbInfo.TcbLevel> cmp = (a, b) -> {
            int c = compareVectors(a.sgxComponents(), b.sgxComponents());
            if (c != 0) {
                return c;
            }
            c = Integer.compare(a.pceSvn(), b.pceSvn());
            if (c != 0 || !tdx) {
                return c;
            }
            return compareVectors(a.tdxComponents(), b.tdxComponents());
        };
        List<TcbInfo.TcbLevel> out = new ArrayList<>(info.tcbLevels());
        out.sort(cmp.reversed());
        return out;
    }

    private static int compareVectors(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        for (int i = 0; i < n; i++) {
            if (a[i] != b[i]) {
                return Integer.compare(a[i], b[i]);
            }
        }
        return Integer.compare(a.length, b.length);
    }

    private static TcbStatusWithAdvisory checkQeIdentity(EnclaveReport qe, QeIdentity id) throws AttestationException {
        if (!MessageDigest.isEqual(qe.mrSignerBytes(), id.mrSignerBytes())) {
            throw new AttestationException(Reason.QE_IDENTITY_MISMATCH, "QE MRSIGNER mismatch: expected "
                    + id.mrSigner().toUpperCase(Locale.ROOT) + ", got " + qe.mrSigner().toUpperCase(Locale.ROOT));
        }
        if (qe.isDebug()) {
            throw new AttestationException(Reason.QE_IDENTITY_MISMATCH, "QE report validation failed: Debug mode is enabled");
        }
        if (qe.isvProdId() != id.isvProdId()) {
            throw new AttestationException(Reason.QE_IDENTITY_MISMATCH, "QE ISVPRODID mismatch: expected "
                    + id.isvProdId() + ", got " + qe.isvProdId());
        }
        long mask = id.miscSelectMask();
        if ((qe.miscSelect() & mask) != (id.miscSelect() & mask)) {
            throw new AttestationException(Reason.QE_IDENTITY_MISMATCH, String.format(Locale.ROOT,
                    "QE MISCSELECT mismatch: expected %08X (masked), got %08X (masked)", id.miscSelect() & mask,
                    qe.miscSelect() & mask));
        }
        byte[] attrs = qe.attributesBytes();
        byte[] exp = id.attributesBytes();
        byte[] m = id.attributesMaskBytes();
        for (int i = 0; i < 16; i++) {
            if ((attrs[i] & m[i]) != (exp[i] & m[i])) {
                throw new AttestationException(Reason.QE_IDENTITY_MISMATCH, String.format(Locale.ROOT,
                        "QE ATTRIBUTES mismatch at byte %d: expected %02X (masked), got %02X (masked)", i,
                        exp[i] & m[i] & 0xff, attrs[i] & m[i] & 0xff));
            }
        }
        List<TcbInfo.IsvSvnLevel> lv = id.tcbLevels();
        if (lv.isEmpty()) {
            throw new AttestationException(Reason.QE_TCB_TOO_LOW, "No TCB levels found in QE Identity");
        }
        for (TcbInfo.IsvSvnLevel l : lv) {
            if (qe.isvSvn() >= l.isvSvn()) {
                return l.status();
            }
        }
        throw new AttestationException(Reason.QE_TCB_TOO_LOW, "QE ISVSVN " + qe.isvSvn()
                + " is below minimum required " + lv.get(lv.size() - 1).isvSvn() + " from QE Identity");
    }

    /** The matched platform TCB level: merged status, its tcbDate and the level's own status. */
    private record Match(TcbStatusWithAdvisory status, String tcbDate, TcbStatus levelStatus) { }

    private static Match matchPlatform(Quote q, TeeType tee, TcbInfo info, List<TcbInfo.TcbLevel> levels,
            PckExtension pck) throws AttestationException {
        if (!MessageDigest.isEqual(info.fmspcBytes(), pck.fmspcBytes())) {
            throw new AttestationException(Reason.FMSPC_MISMATCH, "Fmspc mismatch: TCB info " + info.fmspc()
                    + ", PCK certificate " + pck.fmspc());
        }
        if (tee == TeeType.TDX && !info.isTdx()) {
            throw new AttestationException(Reason.TCB_INFO_MISMATCH, "TDX quote with non-TDX TCB info in the collateral (id "
                    + info.id() + ", version " + info.version() + ")");
        }
        if (tee == TeeType.SGX && !(info.version() >= 2 && "SGX".equals(info.id()))) {
            throw new AttestationException(Reason.TCB_INFO_MISMATCH, "SGX quote with non-SGX TCB info in the collateral (id "
                    + info.id() + ", version " + info.version() + ")");
        }
        byte[] cpuSvn = pck.cpuSvnBytes();
        byte[] teeTcbSvn = tee == TeeType.TDX ? q.tdReport().teeTcbSvnBytes() : null;
        for (TcbInfo.TcbLevel level : levels) {
            if (pck.pceSvn() < level.pceSvn()) {
                continue;
            }
            if (level.sgxCount() != 16) {
                throw new AttestationException(Reason.TCB_COMPONENT_COUNT_MISMATCH,
                        "SGX component count mismatch: expected 16, got " + level.sgxCount());
            }
            if (below(cpuSvn, level, false)) {
                continue;
            }
            if (tee == TeeType.TDX) {
                if (level.tdxCount() != 16) {
                    throw new AttestationException(Reason.TCB_COMPONENT_COUNT_MISMATCH,
                            "TDX component count mismatch: expected 16, got " + level.tdxCount());
                }
                if (below(teeTcbSvn, level, true)) {
                    continue;
                }
            }
            TcbStatusWithAdvisory status = level.status();
            if (tee == TeeType.TDX) {
                TcbStatusWithAdvisory module = matchTdxModule(q.tdReport(), info);
                if (module != null) {
                    status = status.merge(module);
                }
            }
            return new Match(status, level.tcbDate(), level.status().status());
        }
        throw new AttestationException(Reason.NO_MATCHING_TCB_LEVEL, "No matching TCB level found (PCK CPUSVN "
                + pck.cpuSvn() + ", PCESVN " + pck.pceSvn()
                + (teeTcbSvn != null ? ", TEE_TCB_SVN " + Hex.encode(teeTcbSvn) : "") + ", " + levels.size()
                + " levels in TCB info)");
    }

    private static boolean below(byte[] svns, TcbInfo.TcbLevel level, boolean tdx) {
        for (int i = 0; i < 16; i++) {
            int required = tdx ? level.tdx(i) : level.sgx(i);
            if ((svns[i] & 0xff) < required) {
                return true;
            }
        }
        return false;
    }

    private static TcbStatusWithAdvisory matchTdxModule(TdReport td, TcbInfo info) throws AttestationException {
        byte[] svn = td.teeTcbSvnBytes();
        int isvSvn = svn[0] & 0xff;
        int version = svn[1] & 0xff;
        TcbInfo.TdxModule module = info.tdxModule();
        if (module == null) {
            throw new AttestationException(Reason.TDX_MODULE_MISMATCH,
                    "TDX module identity check: TDX TCB Info is missing tdxModule field");
        }
        TcbInfo.TdxModuleIdentity identity = null;
        if (version > 0 && !info.tdxModuleIdentities().isEmpty()) {
            String want = String.format(Locale.ROOT, "TDX_%02X", version);
            for (TcbInfo.TdxModuleIdentity id : info.tdxModuleIdentities()) {
                if (id.id().equalsIgnoreCase(want)) {
                    identity = id;
                    break;
                }
            }
            if (identity == null) {
                throw new AttestationException(Reason.TDX_MODULE_MISMATCH,
                        "TDX module identity check: No TDX module identity with id " + want + " found in TCB Info");
            }
            module = identity.module;
        }
        byte[] signer = td.mrSignerSeamBytes();
        if (!MessageDigest.isEqual(signer, module.mrSigner)) {
            throw new AttestationException(Reason.TDX_MODULE_MISMATCH, "TDX module identity check: TDX module MRSIGNER"
                    + " mismatch: expected " + module.mrSigner() + ", got " + Hex.encode(signer));
        }
        byte[] attrs = td.seamAttributesBytes();
        for (int i = 0; i < 8; i++) {
            int m = module.attributesMask[i] & 0xff;
            int a = attrs[i] & 0xff;
            if ((module.attributes[i] & m) != (a & m)) {
                throw new AttestationException(Reason.TDX_MODULE_MISMATCH, String.format(Locale.ROOT,
                        "TDX module identity check: SEAMATTRIBUTES mismatch at byte %d: expected %02X (masked), got %02X"
                                + " (masked)", i, module.attributes[i] & m & 0xff, a & m));
            }
            if ((a & ~m) != 0) {
                throw new AttestationException(Reason.TDX_MODULE_MISMATCH, String.format(Locale.ROOT,
                        "TDX module identity check: SEAMATTRIBUTES bits set outside mask at byte %d: %02X", i, a & ~m));
            }
        }
        if (identity == null) {
            return null;
        }
        for (TcbInfo.IsvSvnLevel l : identity.tcbLevels()) {
            if (isvSvn >= l.isvSvn()) {
                return l.status();
            }
        }
        throw new AttestationException(Reason.TDX_MODULE_MISMATCH, "TDX module identity check: TDX module ISVSVN "
                + isvSvn + " is below minimum required from TDX module TCB levels (" + identity.id() + ")");
    }

    private void validateAttributes(Quote q) throws AttestationException {
        if (q.enclaveReport() != null) {
            if (q.enclaveReport().isDebug() && !allowDebug) {
                throw new AttestationException(Reason.DEBUG_ENABLED, "Debug mode is enabled (SGX enclave DEBUG attribute)");
            }
            return;
        }
        TdReport td = q.tdReport();
        if (td.isV15() && !allowServiceTd && !td.mrServiceTdIsZero()) {
            throw new AttestationException(Reason.SERVICE_TD_NOT_ALLOWED, "Invalid MR service TD: " + td.mrServiceTd());
        }
        byte[] a = td.tdAttributesBytes();
        if ((a[0] & 0xfe) != 0) {
            throw new AttestationException(Reason.TD_ATTRIBUTES_INVALID, "Reserved bits in TD attributes are set (TUD bits"
                    + " 7:1, td_attributes " + Hex.encode(a) + ")");
        }
        if ((a[0] & 0x01) != 0 && !allowDebug) {
            throw new AttestationException(Reason.DEBUG_ENABLED, "Debug mode is enabled (TD attribute TUD.DEBUG)");
        }
        boolean secReserved = a[1] != 0 || a[2] != 0 || (a[3] & 0x0f) != 0 || (a[3] & 0x20) != 0;
        // As the reference: the OTHER field is read as byte7..byte5 plus byte4 without its top bit, so bit 63
        // (PERFMON) counts as reserved and bit 39 is ignored. See docs/dcap-semantics.md.
        boolean otherReserved = a[7] != 0 || a[6] != 0 || a[5] != 0 || (a[4] & 0x7f) != 0;
        if (secReserved || otherReserved) {
            throw new AttestationException(Reason.TD_ATTRIBUTES_INVALID, "Reserved bits in TD attributes are set"
                    + " (td_attributes " + Hex.encode(a) + ")");
        }
        if ((a[3] & 0x10) == 0) {
            throw new AttestationException(Reason.TD_ATTRIBUTES_INVALID, "SEPT_VE_DISABLE is not enabled (td_attributes "
                    + Hex.encode(a) + ")");
        }
    }

    /** Builder for {@link QuoteVerifier}. */
    public static final class Builder {
        private X509Certificate testAnchor;
        private boolean allowDebug;
        private boolean allowServiceTd;
        private Clock clock = Clock.systemUTC();
        private int cacheCapacity = 4096;

        private Builder() {}

        /** Accept debug workloads (SGX DEBUG, TDX TUD.DEBUG). A debug QE is still rejected. Default false. */
        public Builder allowDebug(boolean allow) {
            this.allowDebug = allow;
            return this;
        }

        /** Accept a non-zero MR_SERVICE_TD in TD 1.5 quotes. Default false. */
        public Builder allowServiceTd(boolean allow) {
            this.allowServiceTd = allow;
            return this;
        }

        /** The clock read (once per call) by {@link QuoteVerifier#verify(byte[], Collateral)}. Default UTC system clock. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How many successful signature checks and parsed quote chains to remember (0 disables reuse).
         * Default 4096.
         */
        public Builder cacheCapacity(int entries) {
            if (entries < 0) {
                throw new IllegalArgumentException("cacheCapacity must be >= 0, got " + entries);
            }
            this.cacheCapacity = entries;
            return this;
        }

        /**
         * FOR TESTS ONLY: trust {@code root} instead of the pinned Intel SGX Root CA. Quotes "verified" with
         * such a verifier prove nothing about Intel hardware.
         */
        public Builder insecureTrustAnchorForTesting(X509Certificate root) {
            this.testAnchor = Objects.requireNonNull(root, "root");
            return this;
        }

        public QuoteVerifier build() {
            return new QuoteVerifier(this);
        }
    }
}
