package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.databind.CBORMapper;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

/**
 * {@code measurement.tdx.cbor}, dstack's {@code TdxOsImageMeasurement} version 3 ({@code dstack-types/src/lib.rs}
 * {@code CborTdxOsImageMeasurement}): a CBOR map
 * <pre>
 * { "version": 3,
 *   "image": { "cmdline_sha384": bstr48, "kernel_authenticode": bstr48, "initrd_sha384": bstr48 },
 *   "tdvf":  { "ovmf": "pre202505", "mrtd": { "single_pass": bstr48, "two_pass": bstr48 }, "td_hob": bstr } }
 * </pre>
 * Read strictly: one CBOR item and nothing after it, maps with text keys, no duplicate key, byte strings for the
 * digests (each 48 bytes), every field present; unknown keys are ignored as serde does. Depth and size bounded.
 *
 * @param cmdlineSha384 SHA-384 of the measured kernel command line (RTMR2 event 1)
 * @param kernelAuthenticode Authenticode SHA-384 of the QEMU-patched kernel for high memory (RTMR1 event 1)
 * @param initrdSha384 SHA-384 of the initrd (RTMR2 event 2)
 * @param ovmfVariant the OVMF variant ({@code pre202505})
 * @param mrtdSinglePass MRTD for QEMU's single-pass page order
 * @param mrtdTwoPass MRTD for QEMU's two-pass page order
 * @param tdHobWitness the compact TD HOB witness (see {@link TdHob})
 */
public record TdxImageMeasurement(byte[] cmdlineSha384, byte[] kernelAuthenticode, byte[] initrdSha384,
        String ovmfVariant, byte[] mrtdSinglePass, byte[] mrtdTwoPass, byte[] tdHobWitness) {
    /** {@code TdxOsImageMeasurement::VERSION}. */
    public static final int VERSION = 3;
    /** Largest TD HOB witness accepted (ours; dstack's is a dozen bytes). */
    public static final int MAX_WITNESS_BYTES = 1024;

    private static final ObjectMapper CBOR = CBORMapper.builder(CBORFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8)
                            .maxStringLength(MeasurementDocument.MAX_BYTES).maxNumberLength(40).build())
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    public TdxImageMeasurement {
        cmdlineSha384 = cmdlineSha384.clone();
        kernelAuthenticode = kernelAuthenticode.clone();
        initrdSha384 = initrdSha384.clone();
        Objects.requireNonNull(ovmfVariant);
        mrtdSinglePass = mrtdSinglePass.clone();
        mrtdTwoPass = mrtdTwoPass.clone();
        tdHobWitness = tdHobWitness.clone();
    }

    /**
     * Decodes {@code measurement.tdx.cbor}.
     *
     * @throws RaException {@code TOO_LARGE}, {@code WRONG_TYPE} (not CBOR, trailing bytes, duplicate key, a
     *                     member of the wrong type), {@code MISSING_FIELD}, {@code UNKNOWN_VERSION},
     *                     {@code UNKNOWN_VARIANT}, {@code BAD_LENGTH}; the field is named
     */
    public static TdxImageMeasurement decode(byte[] cbor) throws RaException {
        String f = "measurement.tdx.cbor";
        if (cbor.length > MeasurementDocument.MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, f, cbor.length + " bytes > " + MeasurementDocument.MAX_BYTES);
        }
        JsonNode root;
        try {
            root = CBOR.readTree(cbor);
        } catch (IOException | RuntimeException e) {
            // trailing items, duplicate keys, truncation and bad encodings all land here
            String m = e instanceof com.fasterxml.jackson.core.JsonProcessingException p ? p.getOriginalMessage()
                    : e.getClass().getSimpleName();
            if (m != null && m.toLowerCase(java.util.Locale.ROOT).contains("trailing")) {
                throw new RaException(Reason.TRAILING_BYTES, f, "bytes after the CBOR item");
            }
            throw new RaException(Reason.WRONG_TYPE, f, "not one well-formed CBOR item: " + clip(m));
        }
        if (root == null || root.isMissingNode()) {
            throw new RaException(Reason.TRUNCATED, f, "empty");
        }
        JsonNode top = map(root, f);
        JsonNode v = member(top, "version", f);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0 || v.longValue() > 0xffffffffL) {
            throw new RaException(Reason.WRONG_TYPE, f + ".version", "expected a u32");
        }
        if (v.longValue() != VERSION) {
            throw new RaException(Reason.UNKNOWN_VERSION, f + ".version",
                    "TdxOsImageMeasurement: unsupported version " + v.longValue() + ", expected " + VERSION);
        }
        JsonNode image = map(member(top, "image", f), f + ".image");
        JsonNode tdvf = map(member(top, "tdvf", f), f + ".tdvf");
        byte[] cmdline = digest(image, "cmdline_sha384", f + ".image");
        byte[] kernel = digest(image, "kernel_authenticode", f + ".image");
        byte[] initrd = digest(image, "initrd_sha384", f + ".image");
        JsonNode ovmf = member(tdvf, "ovmf", f + ".tdvf");
        if (!ovmf.isTextual()) {
            throw new RaException(Reason.WRONG_TYPE, f + ".tdvf.ovmf", "expected a text string");
        }
        if (!ovmf.textValue().equals(LiteVmConfig.OVMF_PRE202505)) {
            throw new RaException(Reason.UNKNOWN_VARIANT, f + ".tdvf.ovmf",
                    "unknown OVMF variant, expected \"" + LiteVmConfig.OVMF_PRE202505 + "\"");
        }
        JsonNode mrtd = map(member(tdvf, "mrtd", f + ".tdvf"), f + ".tdvf.mrtd");
        byte[] single = digest(mrtd, "single_pass", f + ".tdvf.mrtd");
        byte[] two = digest(mrtd, "two_pass", f + ".tdvf.mrtd");
        byte[] witness = bytes(member(tdvf, "td_hob", f + ".tdvf"), f + ".tdvf.td_hob");
        if (witness.length > MAX_WITNESS_BYTES) {
            throw new RaException(Reason.TOO_LARGE, f + ".tdvf.td_hob", witness.length + " bytes > " + MAX_WITNESS_BYTES);
        }
        return new TdxImageMeasurement(cmdline, kernel, initrd, ovmf.textValue(), single, two, witness);
    }

    private static JsonNode map(JsonNode n, String f) throws RaException {
        if (!n.isObject()) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected a CBOR map, got " + n.getNodeType());
        }
        return n;
    }

    private static JsonNode member(JsonNode m, String name, String f) throws RaException {
        JsonNode v = m.get(name);
        if (v == null) {
            throw new RaException(Reason.MISSING_FIELD, f + "." + name, "missing");
        }
        return v;
    }

    private static byte[] bytes(JsonNode v, String f) throws RaException {
        if (!v.isBinary()) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected a CBOR byte string, got " + v.getNodeType());
        }
        try {
            return v.binaryValue();
        } catch (IOException e) {
            throw new RaException(Reason.WRONG_TYPE, f, "expected a CBOR byte string");
        }
    }

    private static byte[] digest(JsonNode m, String name, String f) throws RaException {
        byte[] b = bytes(member(m, name, f), f + "." + name);
        if (b.length != 48) {
            throw new RaException(Reason.BAD_LENGTH, f + "." + name, "has invalid length " + b.length + ", expected 48");
        }
        return b;
    }

    private static String clip(String s) {
        if (s == null) {
            return "";
        }
        return s.length() <= 120 ? s : s.substring(0, 120) + "…";
    }

    @Override
    public byte[] cmdlineSha384() {
        return cmdlineSha384.clone();
    }

    @Override
    public byte[] kernelAuthenticode() {
        return kernelAuthenticode.clone();
    }

    @Override
    public byte[] initrdSha384() {
        return initrdSha384.clone();
    }

    @Override
    public byte[] mrtdSinglePass() {
        return mrtdSinglePass.clone();
    }

    @Override
    public byte[] mrtdTwoPass() {
        return mrtdTwoPass.clone();
    }

    @Override
    public byte[] tdHobWitness() {
        return tdHobWitness.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TdxImageMeasurement m && Arrays.equals(cmdlineSha384, m.cmdlineSha384)
                && Arrays.equals(kernelAuthenticode, m.kernelAuthenticode) && Arrays.equals(initrdSha384, m.initrdSha384)
                && ovmfVariant.equals(m.ovmfVariant) && Arrays.equals(mrtdSinglePass, m.mrtdSinglePass)
                && Arrays.equals(mrtdTwoPass, m.mrtdTwoPass) && Arrays.equals(tdHobWitness, m.tdHobWitness);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(cmdlineSha384) ^ Arrays.hashCode(mrtdTwoPass);
    }

    @Override
    public String toString() {
        java.util.HexFormat h = java.util.HexFormat.of();
        return "TdxImageMeasurement[ovmf=" + ovmfVariant + ", mrtd.single_pass=" + h.formatHex(mrtdSinglePass)
                + ", mrtd.two_pass=" + h.formatHex(mrtdTwoPass) + ", td_hob=" + h.formatHex(tdHobWitness) + "]";
    }
}
