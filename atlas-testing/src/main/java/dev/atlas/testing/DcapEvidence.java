package dev.atlas.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A complete, valid set of DCAP evidence signed through a {@link MockIntelPki}: a quote (TDX v4/v5 or SGX
 * v3) and its collateral in dcap-qvl's {@code QuoteCollateralV3} JSON, plus the time at which it verifies.
 * Every option of the {@link Builder} changes exactly one thing, so a test can build the one mutation that
 * must trip one check. Deterministic from the seed.
 *
 * <pre>{@code
 * DcapEvidence ev = DcapEvidence.tdx().build();
 * // verify ev.quote() against ev.collateralJson() at ev.verificationTime(), trusting ev.rootCertificate()
 * DcapEvidence debug = DcapEvidence.tdx().tdAttributes("0100001000000000").build();
 * }</pre>
 */
public final class DcapEvidence {
    /** Intel's QE vendor ID. */
    public static final String INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final byte[] quote;
    private final String collateralJson;
    private final MockIntelPki pki;
    private final Instant verificationTime;
    private final String tcbInfoJson;
    private final String qeIdentityJson;

    private DcapEvidence(byte[] quote, String collateralJson, MockIntelPki pki, Instant t, String tcb, String qe) {
        this.quote = quote;
        this.collateralJson = collateralJson;
        this.pki = pki;
        this.verificationTime = t;
        this.tcbInfoJson = tcb;
        this.qeIdentityJson = qe;
    }

    /** A builder for a TDX quote (v4, TD report 1.0 by default). */
    public static Builder tdx() {
        return new Builder(true);
    }

    /** A builder for an SGX quote (v3). */
    public static Builder sgx() {
        return new Builder(false);
    }

    public byte[] quote() {
        return quote.clone();
    }

    public String collateralJson() {
        return collateralJson;
    }

    public String tcbInfoJson() {
        return tcbInfoJson;
    }

    public String qeIdentityJson() {
        return qeIdentityJson;
    }

    public MockIntelPki pki() {
        return pki;
    }

    /** The mock root: the trust anchor a verifier must be given (through its for-testing API). */
    public X509Certificate rootCertificate() {
        return pki.rootCertificate();
    }

    /** An instant inside every validity window of this evidence. */
    public Instant verificationTime() {
        return verificationTime;
    }

    /** Signs {@code text}'s UTF-8 bytes with the mock TCB signing key; returns raw {@code r||s} hex. */
    public static String signP1363Hex(PrivateKey key, String text) {
        return Seeds.hex(signP1363(key, text.getBytes(StandardCharsets.UTF_8), null));
    }

    static byte[] signP1363(PrivateKey key, byte[] data, SecureRandom rnd) {
        try {
            Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
            if (rnd != null) {
                s.initSign(key, rnd);
            } else {
                s.initSign(key);
            }
            s.update(data);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Builder. Defaults produce evidence that verifies as {@code UpToDate} with no advisories. */
    public static final class Builder {
        private final boolean tdx;
        private long seed = 1;
        private MockIntelPki pki;
        private MockIntelPki.SgxExtension sgxExtension = MockIntelPki.SgxExtension.defaults();
        private int version;
        private int attestationKeyType = 2;
        private Long teeType;
        private String qeVendorId = INTEL_QE_VENDOR_ID;
        private int v5BodyType;
        private boolean td15;
        private String teeTcbSvn = "06010300000000000000000000000000";
        private String mrSignerSeam = zeros(48);
        private String seamAttributes = zeros(8);
        private String tdAttributes = "0000001000000000";
        private String mrServiceTd = zeros(48);
        private String sgxAttributes = "05000000000000000700000000000000";
        private final String[] rtmr = {zeros(48), zeros(48), zeros(48), zeros(48)};
        private String mrTd = "11".repeat(48);
        private String reportData = zeros(64);
        private String qeMrSigner = "dc".repeat(32);
        private int qeIsvProdId = -1;
        private int qeIsvSvn = 6;
        private String qeAttributes = "11000000000000000000000000000000";
        private long qeMiscSelect;
        private int qeAuthDataLength = 32;
        private String qeReportDataOverride;
        private int certificationDataType = 5;
        private int outerCertificationType = 6;
        private String pckChainPemOverride;
        private int trailingZeros;
        private boolean corruptQuoteSignature;
        private boolean corruptQeReportSignature;
        private Instant issueDate = Instant.parse("2025-06-01T00:00:00Z");
        private Instant nextUpdate = Instant.parse("2025-07-01T00:00:00Z");
        private Instant verificationTime = Instant.parse("2025-06-15T00:00:00Z");
        private Consumer<ObjectNode> tcbInfoCustomizer = n -> { };
        private Consumer<ObjectNode> qeIdentityCustomizer = n -> { };
        private Consumer<byte[]> signedBytesCustomizer = b -> { };

        private Builder(boolean tdx) {
            this.tdx = tdx;
            this.version = tdx ? 4 : 3;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Use this PKI (for PKI mutations) instead of a default one built from the seed. */
        public Builder pki(MockIntelPki pki) {
            this.pki = pki;
            return this;
        }

        /** SGX extension for the default PKI (ignored when {@link #pki} is given). */
        public Builder sgxExtension(MockIntelPki.SgxExtension ext) {
            this.sgxExtension = ext;
            return this;
        }

        /** Quote version (TDX default 4, SGX default 3). */
        public Builder version(int v) {
            this.version = v;
            return this;
        }

        /** Version 5 with a TD report 1.5 body (TDX only). */
        public Builder td15() {
            this.version = 5;
            this.td15 = true;
            return this;
        }

        /** Overrides the v5 body-type code (1 SGX, 2 TD 1.0, 3 TD 1.5). */
        public Builder v5BodyType(int code) {
            this.v5BodyType = code;
            return this;
        }

        public Builder attestationKeyType(int t) {
            this.attestationKeyType = t;
            return this;
        }

        public Builder teeType(long t) {
            this.teeType = t;
            return this;
        }

        public Builder qeVendorId(String hex16) {
            this.qeVendorId = hex16;
            return this;
        }

        public Builder teeTcbSvn(String hex16) {
            this.teeTcbSvn = hex16;
            return this;
        }

        public Builder mrSignerSeam(String hex48) {
            this.mrSignerSeam = hex48;
            return this;
        }

        public Builder seamAttributes(String hex8) {
            this.seamAttributes = hex8;
            return this;
        }

        public Builder tdAttributes(String hex8) {
            this.tdAttributes = hex8;
            return this;
        }

        public Builder mrServiceTd(String hex48) {
            this.mrServiceTd = hex48;
            return this;
        }

        /** SGX enclave attributes (16 bytes hex); byte 0 bit 1 is DEBUG. */
        public Builder sgxAttributes(String hex16) {
            this.sgxAttributes = hex16;
            return this;
        }

        public Builder mrTd(String hex48) {
            this.mrTd = hex48;
            return this;
        }

        public Builder rtmr(int index, String hex48) {
            this.rtmr[index] = hex48;
            return this;
        }

        /** The report data of the body (64 bytes hex). */
        public Builder reportData(String hex64) {
            this.reportData = hex64;
            return this;
        }

        public Builder qeMrSigner(String hex32) {
            this.qeMrSigner = hex32;
            return this;
        }

        public Builder qeIsvProdId(int v) {
            this.qeIsvProdId = v;
            return this;
        }

        public Builder qeIsvSvn(int v) {
            this.qeIsvSvn = v;
            return this;
        }

        public Builder qeAttributes(String hex16) {
            this.qeAttributes = hex16;
            return this;
        }

        public Builder qeMiscSelect(long v) {
            this.qeMiscSelect = v;
            return this;
        }

        public Builder qeAuthDataLength(int n) {
            this.qeAuthDataLength = n;
            return this;
        }

        /** Replace the QE report's report data (normally SHA-256(attestation key || auth data) || zeros). */
        public Builder qeReportData(String hex64) {
            this.qeReportDataOverride = hex64;
            return this;
        }

        public Builder certificationDataType(int t) {
            this.certificationDataType = t;
            return this;
        }

        public Builder outerCertificationType(int t) {
            this.outerCertificationType = t;
            return this;
        }

        /** Put this PEM in the quote instead of the PKI's PCK chain. */
        public Builder pckChainPem(String pem) {
            this.pckChainPemOverride = pem;
            return this;
        }

        public Builder trailingZeros(int n) {
            this.trailingZeros = n;
            return this;
        }

        public Builder corruptQuoteSignature() {
            this.corruptQuoteSignature = true;
            return this;
        }

        public Builder corruptQeReportSignature() {
            this.corruptQeReportSignature = true;
            return this;
        }

        /** issueDate/nextUpdate of both TCB info and QE identity. */
        public Builder collateralWindow(Instant issue, Instant next) {
            this.issueDate = issue;
            this.nextUpdate = next;
            return this;
        }

        public Builder verificationTime(Instant t) {
            this.verificationTime = t;
            return this;
        }

        /** Edit the TCB info JSON before it is signed. */
        public Builder tcbInfo(Consumer<ObjectNode> c) {
            this.tcbInfoCustomizer = Objects.requireNonNull(c);
            return this;
        }

        /** Edit the QE identity JSON before it is signed. */
        public Builder qeIdentity(Consumer<ObjectNode> c) {
            this.qeIdentityCustomizer = Objects.requireNonNull(c);
            return this;
        }

        /** Edit the signed part of the quote (header and body) before it is signed. */
        public Builder beforeQuoteSigning(Consumer<byte[]> c) {
            this.signedBytesCustomizer = Objects.requireNonNull(c);
            return this;
        }

        public DcapEvidence build() {
            MockIntelPki p = pki != null ? pki : MockIntelPki.builder().seed(seed).sgxExtension(sgxExtension).build();
            SecureRandom rnd = Seeds.random(seed, "quote");
            KeyPair att = attestationKey(rnd);
            byte[] attXy = xy((ECPublicKey) att.getPublic());
            MockIntelPki.SgxExtension ext = p.sgxExtension() != null ? p.sgxExtension() : MockIntelPki.SgxExtension.defaults();

            // Header + body.
            ByteArrayOutputStream signed = new ByteArrayOutputStream();
            le16(signed, version);
            le16(signed, attestationKeyType);
            le32(signed, teeType != null ? teeType : (tdx ? 0x81 : 0));
            le16(signed, 0);
            le16(signed, 0);
            signed.writeBytes(Seeds.hex(qeVendorId));
            byte[] userData = new byte[20];
            rnd.nextBytes(userData);
            signed.writeBytes(userData);
            byte[] body = tdx ? tdReport() : enclaveReport(Seeds.hex(sgxAttributes), Seeds.hex(reportData), 0, 0,
                    "22".repeat(32), "33".repeat(32), ext.cpuSvn);
            if (version == 5) {
                int code = v5BodyType != 0 ? v5BodyType : (tdx ? (td15 ? 3 : 2) : 1);
                le16(signed, code);
                le32(signed, body.length);
            }
            signed.writeBytes(body);
            byte[] signedBytes = signed.toByteArray();
            signedBytesCustomizer.accept(signedBytes);
            byte[] quoteSig = signP1363(att.getPrivate(), signedBytes, rnd);
            if (corruptQuoteSignature) {
                quoteSig[5] ^= 0x01;
            }

            // QE report, bound to the attestation key, signed by the PCK leaf.
            byte[] auth = new byte[qeAuthDataLength];
            for (int i = 0; i < auth.length; i++) {
                auth[i] = (byte) i;
            }
            byte[] qeReportData = new byte[64];
            System.arraycopy(sha256(concat(attXy, auth)), 0, qeReportData, 0, 32);
            if (qeReportDataOverride != null) {
                qeReportData = Seeds.hex(qeReportDataOverride);
            }
            int prodId = qeIsvProdId >= 0 ? qeIsvProdId : (tdx ? 2 : 1);
            byte[] qeReport = enclaveReport(Seeds.hex(qeAttributes), qeReportData, prodId, qeIsvSvn,
                    "44".repeat(32), qeMrSigner, ext.cpuSvn);
            writeLe32(qeReport, 16, qeMiscSelect);
            byte[] qeSig = signP1363(p.privateKey(MockIntelPki.Role.PCK_LEAF), qeReport, rnd);
            if (corruptQeReportSignature) {
                qeSig[7] ^= 0x01;
            }
            String pem = pckChainPemOverride != null ? pckChainPemOverride : p.pckChainPem();
            byte[] certBody = concat(pem.getBytes(StandardCharsets.US_ASCII), new byte[] {0});

            ByteArrayOutputStream qeCert = new ByteArrayOutputStream();
            qeCert.writeBytes(qeReport);
            qeCert.writeBytes(qeSig);
            le16(qeCert, auth.length);
            qeCert.writeBytes(auth);
            le16(qeCert, certificationDataType);
            le32(qeCert, certBody.length);
            qeCert.writeBytes(certBody);

            ByteArrayOutputStream sig = new ByteArrayOutputStream();
            sig.writeBytes(quoteSig);
            sig.writeBytes(attXy);
            if (version == 3) {
                sig.writeBytes(qeCert.toByteArray());
            } else {
                le16(sig, outerCertificationType);
                le32(sig, qeCert.size());
                sig.writeBytes(qeCert.toByteArray());
            }
            ByteArrayOutputStream q = new ByteArrayOutputStream();
            q.writeBytes(signedBytes);
            le32(q, sig.size());
            q.writeBytes(sig.toByteArray());
            q.writeBytes(new byte[trailingZeros]);

            // Collateral.
            ObjectNode tcb = tdx ? tdxTcbInfo(ext) : sgxTcbInfo(ext);
            tcbInfoCustomizer.accept(tcb);
            ObjectNode qe = qeIdentityJson();
            qeIdentityCustomizer.accept(qe);
            String tcbText = write(tcb);
            String qeText = write(qe);
            PrivateKey signer = p.privateKey(MockIntelPki.Role.TCB_SIGNER);
            ObjectNode coll = JSON.createObjectNode();
            coll.put("pck_crl_issuer_chain", p.pem(MockIntelPki.Role.PCK_CA, MockIntelPki.Role.ROOT));
            coll.put("root_ca_crl", Seeds.hex(p.rootCaCrlDer()));
            coll.put("pck_crl", Seeds.hex(p.pckCrlDer()));
            coll.put("tcb_info_issuer_chain", p.tcbSigningChainPem());
            coll.put("tcb_info", tcbText);
            coll.put("tcb_info_signature", Seeds.hex(signP1363(signer, tcbText.getBytes(StandardCharsets.UTF_8), rnd)));
            coll.put("qe_identity_issuer_chain", p.tcbSigningChainPem());
            coll.put("qe_identity", qeText);
            coll.put("qe_identity_signature", Seeds.hex(signP1363(signer, qeText.getBytes(StandardCharsets.UTF_8), rnd)));
            return new DcapEvidence(q.toByteArray(), write(coll), p, verificationTime, tcbText, qeText);
        }

        private byte[] tdReport() {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            o.writeBytes(Seeds.hex(teeTcbSvn));
            o.writeBytes(Seeds.hex("5b".repeat(48))); // mr_seam
            o.writeBytes(Seeds.hex(mrSignerSeam));
            o.writeBytes(Seeds.hex(seamAttributes));
            o.writeBytes(Seeds.hex(tdAttributes));
            o.writeBytes(Seeds.hex("e702060000000000")); // xfam
            o.writeBytes(Seeds.hex(mrTd));
            o.writeBytes(new byte[48 * 3]); // mr_config_id, mr_owner, mr_owner_config
            for (String r : rtmr) {
                o.writeBytes(Seeds.hex(r));
            }
            o.writeBytes(Seeds.hex(reportData));
            if (td15) {
                o.writeBytes(Seeds.hex(teeTcbSvn));
                o.writeBytes(Seeds.hex(mrServiceTd));
            }
            return o.toByteArray();
        }

        private static byte[] enclaveReport(byte[] attributes, byte[] reportData, int prodId, int isvSvn,
                String mrEnclave, String mrSigner, byte[] cpuSvn) {
            byte[] r = new byte[384];
            System.arraycopy(cpuSvn, 0, r, 0, 16);
            System.arraycopy(attributes, 0, r, 48, 16);
            System.arraycopy(Seeds.hex(mrEnclave), 0, r, 64, 32);
            System.arraycopy(Seeds.hex(mrSigner), 0, r, 128, 32);
            r[256] = (byte) prodId;
            r[257] = (byte) (prodId >>> 8);
            r[258] = (byte) isvSvn;
            r[259] = (byte) (isvSvn >>> 8);
            System.arraycopy(reportData, 0, r, 320, 64);
            return r;
        }

        private ObjectNode tdxTcbInfo(MockIntelPki.SgxExtension ext) {
            ObjectNode t = header("TDX", ext);
            ObjectNode module = t.putObject("tdxModule");
            module.put("mrsigner", zeros(48).toUpperCase());
            module.put("attributes", "0000000000000000");
            module.put("attributesMask", "FFFFFFFFFFFFFFFF");
            ArrayNode ids = t.putArray("tdxModuleIdentities");
            ObjectNode id = ids.addObject();
            id.put("id", "TDX_01");
            id.put("mrsigner", zeros(48).toUpperCase());
            id.put("attributes", "0000000000000000");
            id.put("attributesMask", "FFFFFFFFFFFFFFFF");
            ArrayNode ml = id.putArray("tcbLevels");
            isvLevel(ml, 4, "2024-03-13T00:00:00Z", "UpToDate");
            isvLevel(ml, 2, "2023-08-09T00:00:00Z", "OutOfDate");
            ArrayNode levels = t.putArray("tcbLevels");
            int[] sgx = unsigned(ext.cpuSvn);
            level(levels, sgx, ext.pceSvn, new int[] {5, 0, 2}, "2024-03-13T00:00:00Z", "UpToDate");
            level(levels, sgx, 5, new int[] {5, 0, 2}, "2018-01-04T00:00:00Z", "OutOfDate", "INTEL-SA-00106",
                    "INTEL-SA-00115");
            return t;
        }

        private ObjectNode sgxTcbInfo(MockIntelPki.SgxExtension ext) {
            ObjectNode t = header("SGX", ext);
            ArrayNode levels = t.putArray("tcbLevels");
            level(levels, unsigned(ext.cpuSvn), ext.pceSvn, null, "2024-03-13T00:00:00Z", "UpToDate");
            level(levels, new int[16], 5, null, "2018-01-04T00:00:00Z", "OutOfDate", "INTEL-SA-00106");
            return t;
        }

        private ObjectNode header(String id, MockIntelPki.SgxExtension ext) {
            ObjectNode t = JSON.createObjectNode();
            t.put("id", id);
            t.put("version", 3);
            t.put("issueDate", issueDate.toString());
            t.put("nextUpdate", nextUpdate.toString());
            t.put("fmspc", Seeds.hex(ext.fmspc).toUpperCase());
            t.put("pceId", "0000");
            t.put("tcbType", 0);
            t.put("tcbEvaluationDataNumber", 17);
            return t;
        }

        private ObjectNode qeIdentityJson() {
            ObjectNode q = JSON.createObjectNode();
            q.put("id", tdx ? "TD_QE" : "QE");
            q.put("version", 2);
            q.put("issueDate", issueDate.toString());
            q.put("nextUpdate", nextUpdate.toString());
            q.put("tcbEvaluationDataNumber", 17);
            q.put("miscselect", "00000000");
            q.put("miscselectMask", "FFFFFFFF");
            q.put("attributes", "11000000000000000000000000000000");
            q.put("attributesMask", "FBFFFFFFFFFFFFFF0000000000000000");
            q.put("mrsigner", "DC".repeat(32));
            q.put("isvprodid", tdx ? 2 : 1);
            ArrayNode l = q.putArray("tcbLevels");
            isvLevel(l, 4, "2024-03-13T00:00:00Z", "UpToDate");
            isvLevel(l, 2, "2023-08-09T00:00:00Z", "OutOfDate");
            return q;
        }

        private static void isvLevel(ArrayNode arr, int svn, String date, String status) {
            ObjectNode l = arr.addObject();
            l.putObject("tcb").put("isvsvn", svn);
            l.put("tcbDate", date);
            l.put("tcbStatus", status);
        }

        private static void level(ArrayNode arr, int[] sgx, int pce, int[] tdx, String date, String status,
                String... advisories) {
            ObjectNode l = arr.addObject();
            ObjectNode tcb = l.putObject("tcb");
            ArrayNode s = tcb.putArray("sgxtcbcomponents");
            for (int v : sgx) {
                s.addObject().put("svn", v);
            }
            tcb.put("pcesvn", pce);
            if (tdx != null) {
                ArrayNode t = tcb.putArray("tdxtcbcomponents");
                for (int i = 0; i < 16; i++) {
                    t.addObject().put("svn", i < tdx.length ? tdx[i] : 0);
                }
            }
            l.put("tcbDate", date);
            l.put("tcbStatus", status);
            if (advisories.length > 0) {
                ArrayNode a = l.putArray("advisoryIDs");
                for (String x : advisories) {
                    a.add(x);
                }
            }
        }
    }

    private static int[] unsigned(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xff;
        }
        return out;
    }

    private static KeyPair attestationKey(SecureRandom rnd) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), rnd);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] xy(ECPublicKey k) {
        byte[] out = new byte[64];
        copyUnsigned(k.getW().getAffineX().toByteArray(), out, 0);
        copyUnsigned(k.getW().getAffineY().toByteArray(), out, 32);
        return out;
    }

    private static void copyUnsigned(byte[] v, byte[] out, int off) {
        int start = Math.max(0, v.length - 32);
        int len = v.length - start;
        System.arraycopy(v, start, out, off + 32 - len, len);
    }

    private static byte[] sha256(byte[] d) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(d);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static String write(ObjectNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String zeros(int bytes) {
        return "00".repeat(bytes);
    }

    private static void le16(ByteArrayOutputStream o, int v) {
        o.write(v & 0xff);
        o.write((v >>> 8) & 0xff);
    }

    private static void le32(ByteArrayOutputStream o, long v) {
        for (int i = 0; i < 4; i++) {
            o.write((int) (v >>> (8 * i)) & 0xff);
        }
    }

    private static void writeLe32(byte[] b, int off, long v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }
}
