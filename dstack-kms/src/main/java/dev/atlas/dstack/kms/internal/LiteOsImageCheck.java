package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * The KMS's OS-image verification (spec §2.8 step 5) for TDX, "lite" form ({@code verifier/src/verification.rs}
 * {@code verify_os_image_hash_for_dstack_tdx_lite}, {@code dstack-mr/src/tdx.rs}
 * {@code tdx_measurements_from_measurement_document}): from the caller's {@code vm_config.tdx_measurement}
 * ({@code sha256sum.txt} + {@code measurement.tdx.cbor}), whose {@code SHA-256(sha256sum.txt)} must be the claimed
 * {@code os_image_hash}, and the three RTMR0 {@code ACPI DATA} digests of the caller's event log, recompute MRTD
 * and RTMR0–2 and require them equal to the quote's. No image download, no QEMU; the ACPI table contents are not
 * validated (as upstream's lite path).
 *
 * <p>A boot whose {@code tdx_attestation_variant} is {@code legacy} (or absent) needs upstream's full path (image
 * download into {@code image.cache_dir}, QEMU-generated ACPI tables); that path is not implemented, so with
 * {@code image.verify = true} such a caller is refused with {@code OS_IMAGE_MISMATCH} naming what was missing and
 * where it would have come from. With {@code image.verify = false} nothing is checked (dstack logs "Image
 * verification is disabled"). See {@code docs/dstack-kms-osimage.md}.
 */
public final class LiteOsImageCheck implements OsImageCheck {
    /** {@code TDX_KERNEL_HASH_COMPAT_2G_MEMORY}. */
    public static final long COMPAT_2G_MEMORY = 0x80000000L;

    private static final byte[] CFV_IMAGE = HexFormat.of().parseHex(
            "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d95e6412af21c097d473155875ffd561d6790");
    private static final byte[] BOOT0000 = HexFormat.of().parseHex(
            "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298");
    private static final String EFI_GLOBAL = "8BE4DF61-93CA-11D2-AA0D-00E098032B8C";
    private static final String EFI_IMAGE_SECURITY_DB = "D719B2CB-3D3A-4596-A3BC-DAD00E67656F";
    private static final byte[] ACPI_DATA = "ACPI DATA".getBytes(StandardCharsets.US_ASCII);
    private static final String[] ACPI_NAMES = {"acpi-loader", "acpi-rsdp", "acpi-tables"};

    private final boolean enabled;
    private final Path cacheDir;
    private final String downloadUrl;

    /**
     * @param enabled {@code core.image.verify}
     * @param cacheDir {@code core.image.cache_dir} (named in refusals of the unsupported legacy path)
     * @param downloadUrl {@code core.image.download_url} template with {@code {OS_IMAGE_HASH}} (named likewise)
     */
    public LiteOsImageCheck(boolean enabled, Path cacheDir, String downloadUrl) {
        this.enabled = enabled;
        this.cacheDir = Objects.requireNonNull(cacheDir, "cacheDir");
        this.downloadUrl = Objects.requireNonNull(downloadUrl, "downloadUrl");
    }

    /** From {@code [core.image]}: {@code verify}, {@code cache_dir}, {@code download_url}. */
    public static LiteOsImageCheck from(KmsConfig config) {
        return new LiteOsImageCheck(config.imageVerify(), config.imageCacheDir(), config.imageDownloadUrl());
    }

    /**
     * {@link #check} on a verified caller: its quote and event log, and the request's {@code vm_config} or, when
     * that is empty, the attestation's own config ({@code decode_vm_config}).
     */
    @Override
    public void verify(VerifiedAttestation caller) throws RaException {
        if (!enabled) {
            return;
        }
        String vmConfig = caller.vmConfig().isEmpty() ? caller.attestation().config() : caller.vmConfig();
        check(caller.attestation().quote(), caller.attestation().eventLog(), vmConfig);
    }

    /** Whether {@code image.verify} is on. */
    public boolean enabled() {
        return enabled;
    }

    /**
     * Checks a caller whose quote has already been verified.
     *
     * @param quote the caller's (verified) TDX quote
     * @param eventLog the caller's TDX event log (full or stripped: the RTMR0 {@code ACPI DATA} entries are kept
     *                 by both)
     * @param vmConfig the {@code vm_config} of the request, or, when that is empty, the attestation's own config
     * @throws RaException {@code OS_IMAGE_MISMATCH} for a refusal, a decoder reason for an unreadable document
     */
    public void check(byte[] quote, List<TdxEvent> eventLog, String vmConfig) throws RaException {
        if (!enabled) {
            return;
        }
        LiteVmConfig config = LiteVmConfig.parse(vmConfig);
        String image = HexFormat.of().formatHex(config.osImageHash());
        if (!config.lite()) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.tdx_attestation_variant",
                    "legacy TDX OS-image verification is not supported: it needs the OS image " + image
                            + " (looked for in " + cacheDir.resolve("images").resolve(image.isEmpty() ? "<none>" : image)
                            + ", else downloaded from " + downloadUrl.replace("{OS_IMAGE_HASH}", image)
                            + ") and QEMU's ACPI tables; only tdx_attestation_variant = \"lite\" with "
                            + "vm_config.tdx_measurement is verified (or set image.verify = false)");
        }
        MeasurementDocument doc = config.tdxMeasurement().orElseThrow(() -> new RaException(
                Reason.OS_IMAGE_MISMATCH, "vm_config.tdx_measurement",
                "tdx lite attestation requires vm_config.tdx_measurement (sha256sum.txt and measurement.tdx.cbor of "
                        + "OS image " + image + "); it is absent from the vm_config"));
        doc.verify(config.osImageHash());
        TdxImageMeasurement m = TdxImageMeasurement.decode(doc.measurement());
        if (config.ovmfVariant().isPresent() && !config.ovmfVariant().get().equals(m.ovmfVariant())) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.ovmf_variant",
                    "tdx measurement ovmf_variant mismatch: vm_config=" + config.ovmfVariant().get() + ", document="
                            + m.ovmfVariant());
        }
        byte[][] acpi = acpiDigests(eventLog);
        Registers expected = expected(config, m, acpi);
        Registers actual = Registers.ofQuote(quote);
        expected.requireEqual(actual);
    }

    /**
     * The three logged RTMR0 {@code ACPI DATA} digests, in the order loader, RSDP, tables
     * ({@code tdx_acpi_hashes_from_event_log}: exactly three candidates, one per name, 48 bytes each).
     */
    public static byte[][] acpiDigests(List<TdxEvent> eventLog) throws RaException {
        int rtmr0 = 0;
        List<TdxEvent> candidates = new ArrayList<>();
        for (TdxEvent e : eventLog) {
            if (e.imr() != 0) {
                continue;
            }
            rtmr0++;
            if (e.eventType() == TdxEvent.ACPI_DATA_EVENT_TYPE && Arrays.equals(e.payload(), ACPI_DATA)) {
                candidates.add(e);
            }
        }
        if (candidates.size() != 3) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "event_log",
                    "TDX lite attestation requires exactly 3 RTMR0 ACPI DATA events; found " + candidates.size()
                            + " candidates and " + rtmr0 + " RTMR0 events");
        }
        byte[][] out = new byte[3][];
        for (int i = 0; i < 3; i++) {
            String name = ACPI_NAMES[i];
            List<TdxEvent> match = candidates.stream().filter(e -> e.event().equals(name)).toList();
            if (match.size() != 1) {
                throw new RaException(Reason.OS_IMAGE_MISMATCH, "event_log",
                        "TDX lite attestation requires exactly one RTMR0 ACPI DATA event named " + name + "; found "
                                + match.size());
            }
            byte[] d = match.get(0).digest();
            if (d.length != 48) {
                throw new RaException(Reason.OS_IMAGE_MISMATCH, "event_log",
                        "TDX RTMR0 ACPI DATA event " + name + " has invalid digest length " + d.length + ", expected 48");
            }
            out[i] = d;
        }
        return out;
    }

    /** MRTD and RTMR0–2 as the image document and the VM configuration predict them. */
    public static Registers expected(LiteVmConfig config, TdxImageMeasurement m, byte[][] acpi) throws RaException {
        long mem = config.memorySize();
        if (mem != COMPAT_2G_MEMORY && Long.compareUnsigned(mem, TdHob.STABLE_MIN_MEMORY) < 0) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.memory_size",
                    "TDX lite attestation without image download requires memory_size == " + COMPAT_2G_MEMORY
                            + " bytes (2048 MiB) or >= " + TdHob.STABLE_MIN_MEMORY + " bytes (2816 MiB); got "
                            + Long.toUnsignedString(mem) + " bytes");
        }
        byte[] mrtd = twoPass(config) ? m.mrtdTwoPass() : m.mrtdSinglePass();
        byte[] hob = TdHob.measure(m.tdHobWitness(), mem);
        byte[] sep = sha384(new byte[4]);
        List<byte[]> rtmr0 = List.of(hob, CFV_IMAGE, efiVariable(EFI_GLOBAL, "SecureBoot"), efiVariable(EFI_GLOBAL, "PK"),
                efiVariable(EFI_GLOBAL, "KEK"), efiVariable(EFI_IMAGE_SECURITY_DB, "db"),
                efiVariable(EFI_IMAGE_SECURITY_DB, "dbx"), sep, acpi[0], acpi[1], acpi[2], sha384(new byte[2]), BOOT0000);
        List<byte[]> rtmr1 = List.of(m.kernelAuthenticode(), sha384(ascii("Calling EFI Application from Boot Option")),
                sep, sha384(ascii("Exit Boot Services Invocation")),
                sha384(ascii("Exit Boot Services Returned with Success")));
        List<byte[]> rtmr2 = List.of(m.cmdlineSha384(), m.initrdSha384());
        return new Registers(mrtd, replay(rtmr0), replay(rtmr1), replay(rtmr2));
    }

    /**
     * {@code Machine::versioned_options}: QEMU 8.x adds pages in two passes by default, 9.0 and later (default
     * 9.1.0) in one; below 8.0 is refused. dstack-mr feeds {@code vm_config.qemu_single_pass_add_pages} into
     * {@code two_pass_add_pages} unchanged, and so do we.
     */
    static boolean twoPass(LiteVmConfig config) throws RaException {
        long[] v = {9, 1, 0};
        if (config.qemuVersion().isPresent()) {
            v = parseVersion(config.qemuVersion().get());
        }
        if (v[0] < 8) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.qemu_version",
                    "Unsupported QEMU version: (" + v[0] + ", " + v[1] + ", " + v[2] + ")");
        }
        boolean defaultTwoPass = v[0] == 8;
        return config.qemuSinglePassAddPages().orElse(defaultTwoPass);
    }

    private static long[] parseVersion(String s) throws RaException {
        String[] parts = s.split("\\.", -1);
        if (parts.length > 16) {
            throw new RaException(Reason.WRONG_TYPE, "vm_config.qemu_version", "Invalid version number");
        }
        long[] out = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].startsWith("+") ? parts[i].substring(1) : parts[i];
            if (p.isEmpty() || p.length() > 10 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || Long.parseLong(p) > 0xffffffffL) {
                throw new RaException(Reason.WRONG_TYPE, "vm_config.qemu_version", "Invalid version number");
            }
            out[i] = Long.parseLong(p);
        }
        if (out.length != 3) {
            throw new RaException(Reason.WRONG_TYPE, "vm_config.qemu_version",
                    "Version string must have exactly 3 parts (major.minor.patch), got " + out.length);
        }
        return out;
    }

    /** {@code measure_tdx_efi_variable}: SHA-384 of GUID (mixed-endian) ‖ u64 name length ‖ u64 0 ‖ UTF-16LE name. */
    static byte[] efiVariable(String guid, String name) {
        String[] g = guid.split("-");
        byte[] out = new byte[16 + 16 + 2 * name.length()];
        int pos = 0;
        for (int i = 0; i < g.length; i++) {
            byte[] raw = HexFormat.of().parseHex(g[i]);
            for (int j = 0; j < raw.length; j++) {
                out[pos++] = i <= 2 ? raw[raw.length - 1 - j] : raw[j];
            }
        }
        out[pos] = (byte) name.length(); // u64 LE; names are short ASCII
        pos += 16;
        byte[] utf16 = name.getBytes(StandardCharsets.UTF_16LE);
        System.arraycopy(utf16, 0, out, pos, utf16.length);
        return sha384(out);
    }

    static byte[] replay(List<byte[]> digests) {
        byte[] mr = new byte[48];
        for (byte[] d : digests) {
            mr = sha384(concat(mr, d));
        }
        return mr;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static byte[] sha384(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-384").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * MRTD and RTMR0–2.
     *
     * @param mrtd MRTD
     * @param rtmr0 RTMR0
     * @param rtmr1 RTMR1
     * @param rtmr2 RTMR2
     */
    public record Registers(byte[] mrtd, byte[] rtmr0, byte[] rtmr1, byte[] rtmr2) {
        public Registers {
            mrtd = mrtd.clone();
            rtmr0 = rtmr0.clone();
            rtmr1 = rtmr1.clone();
            rtmr2 = rtmr2.clone();
        }

        /** The registers of a TDX quote (v4 or v5; no signature check: the caller verified it). */
        public static Registers ofQuote(byte[] quote) throws RaException {
            TdReport r;
            try {
                r = Quote.parse(quote).tdReport();
            } catch (AttestationException | RuntimeException e) {
                throw new RaException(Reason.BAD_QUOTE, "quote", "not a TDX quote");
            }
            if (r == null) {
                throw new RaException(Reason.BAD_QUOTE, "quote", "no TD report");
            }
            return new Registers(HexFormat.of().parseHex(r.mrTd()), r.rtmrBytes(0), r.rtmrBytes(1), r.rtmrBytes(2));
        }

        /** {@code Mrs::assert_eq}: MRTD, then RTMR0, RTMR1, RTMR2; the first difference is reported. */
        public void requireEqual(Registers actual) throws RaException {
            String[] names = {"MRTD", "RTMR0", "RTMR1", "RTMR2"};
            byte[][] e = {mrtd, rtmr0, rtmr1, rtmr2};
            byte[][] a = {actual.mrtd, actual.rtmr0, actual.rtmr1, actual.rtmr2};
            for (int i = 0; i < 4; i++) {
                if (!MessageDigest.isEqual(e[i], a[i])) {
                    throw new RaException(Reason.OS_IMAGE_MISMATCH, "quote." + names[i].toLowerCase(java.util.Locale.ROOT),
                            "MRs do not match: " + names[i] + " mismatch: expected=" + HexFormat.of().formatHex(e[i])
                                    + ", actual=" + HexFormat.of().formatHex(a[i]));
                }
            }
        }

        @Override
        public byte[] mrtd() {
            return mrtd.clone();
        }

        @Override
        public byte[] rtmr0() {
            return rtmr0.clone();
        }

        @Override
        public byte[] rtmr1() {
            return rtmr1.clone();
        }

        @Override
        public byte[] rtmr2() {
            return rtmr2.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Registers r && Arrays.equals(mrtd, r.mrtd) && Arrays.equals(rtmr0, r.rtmr0)
                    && Arrays.equals(rtmr1, r.rtmr1) && Arrays.equals(rtmr2, r.rtmr2);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(rtmr0);
        }

        @Override
        public String toString() {
            HexFormat h = HexFormat.of();
            return "Registers[mrtd=" + h.formatHex(mrtd) + ", rtmr0=" + h.formatHex(rtmr0) + ", rtmr1="
                    + h.formatHex(rtmr1) + ", rtmr2=" + h.formatHex(rtmr2) + "]";
        }
    }
}
