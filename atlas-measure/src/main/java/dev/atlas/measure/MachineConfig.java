package dev.atlas.measure;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The hardware configuration a dstack CVM's measurements depend on: the inputs of upstream dstack-mr's
 * {@code Machine} ({@code dstack/dstack-mr/src/machine.rs}) other than the image files.
 *
 * <p>Defaults are dstack-mr's: QEMU version 9.1.0, one NIC, root verity on, no GPUs, no NVSwitches, no PCI hole
 * size (QEMU's default), no hugepages, no SMM, host share mode {@code ""}, OVMF variant {@code pre202505}.
 * {@link #pic()} and {@link #twoPassAddPages()} default by QEMU version: on for 8.x, off for 9.0 and later;
 * versions before 8.0 are rejected. {@link #twoPassAddPagesOverride()} and {@link #picOverride()} hold an
 * explicit choice (empty: by version), so {@code toBuilder().qemuVersion(...)} re-derives the defaults.
 *
 * <p>Combinations dstack-mr cannot measure are rejected by {@link Builder#build()} with
 * {@link MeasureException.Reason#CONFIG_UNSUPPORTED}: SEV, swtpm, an OVMF variant other than {@code pre202505}.
 *
 * <p>Only MRTD depends on {@link #twoPassAddPages()}, only RTMR1 on {@link #memoryBytes()} (through the initrd
 * placement); the topology fields (cpus, PCI hole, GPUs, NVSwitches, NICs, verity volumes, hotplug, pic, smm,
 * hugepages, host share mode) change QEMU's ACPI tables and so RTMR0 only.
 */
public record MachineConfig(
        int cpus,
        long memoryBytes,
        long pciHole64,
        int gpus,
        int nvswitches,
        int nics,
        int verityVolumes,
        boolean hotplugOff,
        String qemuVersion,
        Optional<Boolean> twoPassAddPagesOverride,
        Optional<Boolean> picOverride,
        boolean hugepages,
        boolean smm,
        boolean rootVerity,
        String hostShareMode,
        String ovmfVariant,
        boolean swtpm,
        boolean sev) {

    /** dstack-mr's default QEMU version. */
    public static final String DEFAULT_QEMU_VERSION = "9.1.0";
    /** The only OVMF measurement layout dstack-mr supports. */
    public static final String OVMF_PRE202505 = "pre202505";
    /** Host share modes the dstack VMM knows. */
    public static final Set<String> HOST_SHARE_MODES = Set.of("", "9p", "vvfat", "vhd");

    static final int MAX_CPUS = 4096;
    static final int MAX_DEVICES = 256;

    /** Validated by {@link Builder#build()}; use the builder. */
    public MachineConfig {
        Objects.requireNonNull(qemuVersion, "qemuVersion");
        Objects.requireNonNull(twoPassAddPagesOverride, "twoPassAddPagesOverride");
        Objects.requireNonNull(picOverride, "picOverride");
        Objects.requireNonNull(hostShareMode, "hostShareMode");
        Objects.requireNonNull(ovmfVariant, "ovmfVariant");
    }

    /** A builder with dstack-mr's defaults; {@code cpus} and {@code memory} must be set. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values (overrides stay overrides). */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.cpus = cpus;
        b.memoryBytes = memoryBytes;
        b.pciHole64 = pciHole64;
        b.gpus = gpus;
        b.nvswitches = nvswitches;
        b.nics = nics;
        b.verityVolumes = verityVolumes;
        b.hotplugOff = hotplugOff;
        b.qemuVersion = qemuVersion;
        b.twoPassAddPages = twoPassAddPagesOverride.orElse(null);
        b.pic = picOverride.orElse(null);
        b.hugepages = hugepages;
        b.smm = smm;
        b.rootVerity = rootVerity;
        b.hostShareMode = hostShareMode;
        b.ovmfVariant = ovmfVariant;
        b.swtpm = swtpm;
        b.sev = sev;
        return b;
    }

    /** The QEMU version as {@code {major, minor, patch}}. */
    public int[] qemuVersionTuple() {
        try {
            return parseVersion(qemuVersion);
        } catch (MeasureException e) {
            throw new IllegalStateException(e); // validated by the builder
        }
    }

    /** Whether QEMU adds the TD's pages in two passes (all MEM.PAGE.ADD, then all MR.EXTEND): the override, or
     *  on for QEMU 8.x and off for 9.0 and later. */
    public boolean twoPassAddPages() {
        return twoPassAddPagesOverride.orElseGet(this::qemu8);
    }

    /** Whether the machine has a PIC: the override, or on for QEMU 8.x and off for 9.0 and later. */
    public boolean pic() {
        return picOverride.orElseGet(this::qemu8);
    }

    private boolean qemu8() {
        return qemuVersionTuple()[0] == 8;
    }

    /**
     * Parses a size like {@code 2G}, {@code 2048M}, {@code 512K}, {@code 1T} or plain bytes (binary units, as
     * QEMU and dstack's vmm-cli read them; an optional trailing {@code B}/{@code iB} is accepted), or a {@code 0x} hex
     * byte count.
     */
    public static long parseSize(String option, String text) throws MeasureException {
        if (text == null || text.isBlank() || text.length() > 32) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, option + " must be a size like 2G, got "
                    + (text == null ? "nothing" : "'" + abbreviate(text) + "'"));
        }
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.startsWith("0X")) { // dstack-mr's size parser also takes hex byte counts
            String h = t.substring(2);
            if (h.isEmpty() || h.length() > 15 || !h.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, option
                        + " must be a size like 2G, 2048M or a byte count (decimal or 0x hex), got '"
                        + abbreviate(text) + "'");
            }
            return Long.parseLong(h, 16);
        }
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
        switch (last) {
            case 'K': shift = 10; break;
            case 'M': shift = 20; break;
            case 'G': shift = 30; break;
            case 'T': shift = 40; break;
            default: break;
        }
        String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9') || digits.length() > 19) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID,
                    option + " must be a size like 2G, 2048M or a byte count, got '" + abbreviate(text) + "'");
        }
        long v;
        try {
            v = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, option + " is too large: '" + text + "'");
        }
        if (shift > 0 && v > (Long.MAX_VALUE >> shift)) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, option + " is too large: '" + text + "'");
        }
        return v << shift;
    }

    static int[] parseVersion(String v) throws MeasureException {
        String[] parts = v.split("\\.", -1);
        if (parts.length != 3) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "qemu_version must be MAJOR.MINOR.PATCH, got '"
                    + abbreviate(v) + "' (" + parts.length + " parts)");
        }
        int[] r = new int[3];
        for (int i = 0; i < 3; i++) {
            if (parts[i].isEmpty() || parts[i].length() > 9 || !parts[i].chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new MeasureException(MeasureException.Reason.CONFIG_INVALID,
                        "qemu_version must be MAJOR.MINOR.PATCH of decimal numbers, got '" + abbreviate(v) + "'");
            }
            r[i] = Integer.parseInt(parts[i]);
        }
        return r;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** Builder with dstack-mr's defaults. */
    public static final class Builder {
        private int cpus;
        private long memoryBytes;
        private long pciHole64;
        private int gpus;
        private int nvswitches;
        private int nics = 1;
        private int verityVolumes;
        private boolean hotplugOff;
        private String qemuVersion = DEFAULT_QEMU_VERSION;
        private Boolean twoPassAddPages;
        private Boolean pic;
        private boolean hugepages;
        private boolean smm;
        private boolean rootVerity = true;
        private String hostShareMode = "";
        private String ovmfVariant = OVMF_PRE202505;
        private boolean swtpm;
        private boolean sev;

        private Builder() {
        }

        /** vCPU count, 1..4096. Required. */
        public Builder cpus(int v) { cpus = v; return this; }
        /** Guest memory in bytes, a positive multiple of 4 KiB. Required. */
        public Builder memoryBytes(long v) { memoryBytes = v; return this; }
        /** Guest memory as a size string ({@link #parseSize}). */
        public Builder memory(String size) throws MeasureException { memoryBytes = parseSize("memory", size); return this; }
        /** The 64-bit PCI hole size in bytes; 0 means QEMU's default (dstack-mr's {@code None}). */
        public Builder pciHole64(long v) { pciHole64 = v; return this; }
        /** GPUs passed through, 0..256. */
        public Builder gpus(int v) { gpus = v; return this; }
        /** NVSwitches passed through, 0..256. */
        public Builder nvswitches(int v) { nvswitches = v; return this; }
        /** virtio-net NICs, default 1. */
        public Builder nics(int v) { nics = v; return this; }
        /** virtio-blk verity volumes before the NICs, default 0. */
        public Builder verityVolumes(int v) { verityVolumes = v; return this; }
        /** Whether ACPI PCI hotplug is off. */
        public Builder hotplugOff(boolean v) { hotplugOff = v; return this; }
        /** QEMU version {@code MAJOR.MINOR.PATCH}, default 9.1.0; below 8.0.0 rejected. */
        public Builder qemuVersion(String v) { qemuVersion = v; return this; }
        /**
         * Explicit page-add order; null: by version. dstack passes its {@code vm_config} field
         * {@code qemu_single_pass_add_pages} here unchanged, despite the name (dstack-mr {@code tdx.rs},
         * verifier {@code verification.rs}: {@code maybe_two_pass_add_pages(vm_config.qemu_single_pass_add_pages)});
         * {@link LiteCheck} does the same, and the tdx-lite fixture agrees.
         */
        public Builder twoPassAddPages(Boolean v) { twoPassAddPages = v; return this; }
        /** Explicit PIC choice; null: by version. */
        public Builder pic(Boolean v) { pic = v; return this; }
        public Builder hugepages(boolean v) { hugepages = v; return this; }
        public Builder smm(boolean v) { smm = v; return this; }
        public Builder rootVerity(boolean v) { rootVerity = v; return this; }
        /** {@code ""}, {@code 9p}, {@code vvfat} or {@code vhd}. */
        public Builder hostShareMode(String v) { hostShareMode = v; return this; }
        /** Only {@code pre202505} is supported. */
        public Builder ovmfVariant(String v) { ovmfVariant = v; return this; }
        /** A tpm-tis device backed by swtpm: unsupported (rejected). */
        public Builder swtpm(boolean v) { swtpm = v; return this; }
        /** AMD SEV-SNP instead of TDX: unsupported (rejected). */
        public Builder sev(boolean v) { sev = v; return this; }

        /** Validates and builds; the message names the field and the value. */
        public MachineConfig build() throws MeasureException {
            if (cpus < 1 || cpus > MAX_CPUS) {
                throw invalid("cpus must be 1.." + MAX_CPUS + ", got " + cpus);
            }
            if (memoryBytes <= 0 || memoryBytes % 4096 != 0) {
                throw invalid("memory must be a positive multiple of 4 KiB, got " + memoryBytes + " bytes");
            }
            if (pciHole64 < 0) {
                throw invalid("pci_hole64 must be 0 (QEMU's default) or positive, got " + pciHole64);
            }
            checkCount("gpus", gpus);
            checkCount("nvswitches", nvswitches);
            checkCount("nics", nics);
            checkCount("verity_volumes", verityVolumes);
            if (qemuVersion == null) {
                throw invalid("qemu_version must be set (default " + DEFAULT_QEMU_VERSION + ")");
            }
            int[] v = parseVersion(qemuVersion);
            if (v[0] < 8) {
                throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED, "qemu_version " + qemuVersion
                        + " is not supported: dstack-mr measures QEMU 8.0.0 and later");
            }
            if (hostShareMode == null || !HOST_SHARE_MODES.contains(hostShareMode)) {
                throw invalid("host_share_mode must be one of \"\", 9p, vvfat, vhd, got "
                        + (hostShareMode == null ? "null" : "'" + abbreviate(hostShareMode) + "'"));
            }
            if (ovmfVariant == null || !OVMF_PRE202505.equals(ovmfVariant)) {
                throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED, "ovmf_variant "
                        + (ovmfVariant == null ? "null" : "'" + abbreviate(ovmfVariant) + "'")
                        + " is not supported: only " + OVMF_PRE202505 + " has a known measurement layout");
            }
            if (swtpm) {
                throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED,
                        "swtpm is not supported: a tpm-tis device changes the measured ACPI tables and boot events,"
                                + " which dstack-mr does not model");
            }
            if (sev) {
                throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED,
                        "SEV is not supported: atlas-measure computes TDX registers (MRTD, RTMR0-2) only");
            }
            return new MachineConfig(cpus, memoryBytes, pciHole64, gpus, nvswitches, nics, verityVolumes, hotplugOff,
                    qemuVersion, Optional.ofNullable(twoPassAddPages), Optional.ofNullable(pic), hugepages, smm,
                    rootVerity, hostShareMode, ovmfVariant, swtpm, sev);
        }

        private static void checkCount(String name, int n) throws MeasureException {
            if (n < 0 || n > MAX_DEVICES) {
                throw invalid(name + " must be 0.." + MAX_DEVICES + ", got " + n);
            }
        }

        private static MeasureException invalid(String msg) {
            return new MeasureException(MeasureException.Reason.CONFIG_INVALID, msg);
        }
    }
}
