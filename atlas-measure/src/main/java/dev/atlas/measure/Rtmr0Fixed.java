package dev.atlas.measure;

import dev.atlas.measure.internal.LiteHash;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The parts of RTMR0 that do not come from QEMU's ACPI generator (spec §6.6 "RTMR0"): the TD HOB digest (from the
 * TDVF's TD_HOB / TEMP_MEM ranges and the memory size), the CFV image digest, the five EFI variable events, the
 * separator, {@code BootOrder} and {@code Boot0000}. With the three ACPI digests ({@code acpi-loader},
 * {@code acpi-rsdp}, {@code acpi-tables}) they make the 13-event RTMR0 log of OVMF {@code pre202505}.
 *
 * <p>The ACPI digests need QEMU's ACPI tables for the exact topology (dstack-mr runs a patched QEMU for them); the
 * lite check ({@link LiteCheck}) takes them from the guest's event log instead and lets the quote's RTMR0 decide.
 * Without them, {@link #rtmr0} is empty and {@link #unavailableReason} says why.
 *
 * <p>Upstream: {@code dstack-mr/src/tdvf.rs} ({@code rtmr0_log_from_td_hob_hash_with_acpi_hashes},
 * {@code measure_tdx_efi_variable}, {@code measure_td_hob}), {@code dstack-mr/src/tdx.rs}
 * ({@code measure_td_hob_from_witness_data}, {@code MemoryAcceptor}).
 */
public final class Rtmr0Fixed {
    /** The fixed digest of OVMF's CFV (configuration firmware volume) image event. */
    public static final String CFV_IMAGE_DIGEST =
            "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d95e6412af21c097d473155875ffd561d6790";
    /** The fixed digest of the {@code Boot0000} (OVMF UiApp) event of OVMF {@code pre202505}. */
    public static final String BOOT0000_DIGEST =
            "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298";
    /** {@code EFI_GLOBAL_VARIABLE}: {@code SecureBoot}, {@code PK}, {@code KEK}. */
    public static final String EFI_GLOBAL_VARIABLE_GUID = "8BE4DF61-93CA-11D2-AA0D-00E098032B8C";
    /** {@code EFI_IMAGE_SECURITY_DATABASE}: {@code db}, {@code dbx}. */
    public static final String EFI_IMAGE_SECURITY_DATABASE_GUID = "D719B2CB-3D3A-4596-A3BC-DAD00E67656F";
    /** Memory at or above this size gets its last TD HOB range split around the 2–4 GiB hole. */
    public static final long SPLIT_MIN_MEMORY = 0xB0000000L;
    /** Names of the 13 RTMR0 events, in log order (for messages; the three ACPI names are the guest's labels). */
    public static final List<String> EVENT_NAMES = List.of("td-hob", "cfv-image", "efi-variable SecureBoot",
            "efi-variable PK", "efi-variable KEK", "efi-variable db", "efi-variable dbx", "separator", "acpi-loader",
            "acpi-rsdp", "acpi-tables", "BootOrder", "Boot0000");
    /** Index of {@code acpi-loader} in {@link #EVENT_NAMES}; RSDP and tables follow. */
    public static final int ACPI_LOADER_INDEX = 8;
    /** Most accepted ranges in a TD HOB layout (ours; dstack's OVMF has four). */
    public static final int MAX_RANGES = 64;

    private static final long PAGE = 0x1000;
    private static final long MAX_PAGE = (1L << 51) - 1;

    private Rtmr0Fixed() {}

    /**
     * The three RTMR0 ACPI digests (48 bytes each) as QEMU's tables give them, or as the guest logs them under the
     * names {@code acpi-loader}, {@code acpi-rsdp}, {@code acpi-tables}.
     *
     * @param loader SHA-384 of the table loader (etc/table-loader)
     * @param rsdp SHA-384 of the RSDP
     * @param tables SHA-384 of the ACPI tables blob
     */
    public record AcpiDigests(byte[] loader, byte[] rsdp, byte[] tables) {
        /** Copies; each must be 48 bytes. */
        public AcpiDigests {
            loader = check("acpi-loader", loader);
            rsdp = check("acpi-rsdp", rsdp);
            tables = check("acpi-tables", tables);
        }

        private static byte[] check(String name, byte[] d) {
            Objects.requireNonNull(d, name);
            if (d.length != 48) {
                throw new IllegalArgumentException(name + " digest must be 48 bytes, got " + d.length);
            }
            return d.clone();
        }

        @Override
        public byte[] loader() {
            return loader.clone();
        }

        @Override
        public byte[] rsdp() {
            return rsdp.clone();
        }

        @Override
        public byte[] tables() {
            return tables.clone();
        }

        /** The three digests in log order: loader, RSDP, tables. */
        public List<byte[]> inLogOrder() {
            return List.of(loader.clone(), rsdp.clone(), tables.clone());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AcpiDigests && Arrays.equals(loader, ((AcpiDigests) o).loader)
                    && Arrays.equals(rsdp, ((AcpiDigests) o).rsdp) && Arrays.equals(tables, ((AcpiDigests) o).tables);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(loader) * 31 + Arrays.hashCode(tables);
        }

        @Override
        public String toString() {
            return "AcpiDigests[acpi-loader=" + LiteHash.hex(loader) + ", acpi-rsdp=" + LiteHash.hex(rsdp)
                    + ", acpi-tables=" + LiteHash.hex(tables) + "]";
        }
    }

    /**
     * A guest-physical range OVMF accepts before building the TD HOB.
     *
     * @param address start, a multiple of 4 KiB
     * @param length length in bytes, a positive multiple of 4 KiB
     */
    public record Range(long address, long length) {
        /** Validates alignment and that the range fits in 63 bits. */
        public Range {
            if (address < 0 || length <= 0 || address % PAGE != 0 || length % PAGE != 0
                    || address > Long.MAX_VALUE - length) {
                throw new IllegalArgumentException("TD HOB range must be 4 KiB aligned, non-empty and below 2^63: address=0x"
                        + Long.toHexString(address) + ", length=0x" + Long.toHexString(length));
            }
        }
    }

    /**
     * Where OVMF puts the TD HOB and which ranges it accepts first: the TDVF metadata's {@code TD_HOB} (type 2) and
     * {@code TEMP_MEM} (type 3) sections, or the compact witness of {@code measurement.tdx.cbor}
     * ({@code tdvf.td_hob}: unsigned LEB128 varints {@code base_page, td_hob_page_delta, count,
     * (start_page_delta, page_count) × count}, in 4 KiB pages).
     *
     * @param tdHobAddress the TD HOB's guest-physical address (upstream's default without a TD_HOB section:
     *                     {@code 0x809000})
     * @param acceptedRanges the TD_HOB and TEMP_MEM ranges, in the order they are accepted
     */
    public record TdHobLayout(long tdHobAddress, List<Range> acceptedRanges) {
        /** Copies the list; at most {@link #MAX_RANGES} ranges. */
        public TdHobLayout {
            if (tdHobAddress < 0) {
                throw new IllegalArgumentException("TD HOB address must be below 2^63");
            }
            acceptedRanges = List.copyOf(acceptedRanges);
            if (acceptedRanges.size() > MAX_RANGES) {
                throw new IllegalArgumentException("more than " + MAX_RANGES + " TD HOB ranges");
            }
        }

        /**
         * Decodes a TD HOB witness ({@code TdHobWitnessV1}).
         *
         * @throws MeasureException {@code LITE_DOCUMENT_INVALID} naming the varint and its offset: truncated,
         *     longer than 64 bits, a page number above 2^51, more than {@link #MAX_RANGES} ranges, an empty range,
         *     trailing bytes
         */
        public static TdHobLayout fromWitness(byte[] witness) throws MeasureException {
            Varints in = new Varints(witness);
            long base = in.page("base_page");
            long hobDelta = in.page("td_hob_page_delta");
            int countAt = in.pos;
            long count = in.next("range_count");
            if (count > MAX_RANGES) {
                throw in.invalid("range_count", countAt, count + " ranges, more than the limit of " + MAX_RANGES);
            }
            long hob = in.address(base, hobDelta, "td_hob_page_delta");
            List<Range> ranges = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int at = in.pos;
                long start = in.address(base, in.page("range[" + i + "].start_page_delta"), "range[" + i + "].start_page_delta");
                long pages = in.page("range[" + i + "].page_count");
                if (pages == 0) {
                    throw in.invalid("range[" + i + "].page_count", at, "empty TD HOB range");
                }
                if (start > Long.MAX_VALUE - pages * PAGE) {
                    throw in.invalid("range[" + i + "].page_count", at, "range end beyond 2^63");
                }
                ranges.add(new Range(start, pages * PAGE));
            }
            if (in.pos != witness.length) {
                throw in.invalid("td_hob", in.pos, "TD HOB witness has " + (witness.length - in.pos) + " trailing bytes");
            }
            return new TdHobLayout(hob, ranges);
        }

        /**
         * The canonical witness of this layout, as the image build writes it: ranges sorted by start, the base page
         * the lowest start page.
         *
         * @throws IllegalStateException without ranges, with overlapping ranges, or with the TD HOB below the base
         */
        public byte[] toWitness() {
            List<Range> sorted = new ArrayList<>(acceptedRanges);
            sorted.sort(Comparator.comparingLong(Range::address));
            if (sorted.isEmpty()) {
                throw new IllegalStateException("a TD HOB witness needs at least one range");
            }
            for (int i = 1; i < sorted.size(); i++) {
                Range p = sorted.get(i - 1);
                if (sorted.get(i).address() < p.address() + p.length()) {
                    throw new IllegalStateException("TD HOB witness ranges must not overlap");
                }
            }
            long base = sorted.get(0).address() / PAGE;
            if (tdHobAddress % PAGE != 0 || tdHobAddress / PAGE < base) {
                throw new IllegalStateException("TD HOB must be page aligned and not below the lowest range");
            }
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            put(out, base);
            put(out, tdHobAddress / PAGE - base);
            put(out, sorted.size());
            for (Range r : sorted) {
                put(out, r.address() / PAGE - base);
                put(out, r.length() / PAGE);
            }
            return out.toByteArray();
        }

        private static void put(java.io.ByteArrayOutputStream out, long v) {
            do {
                int b = (int) (v & 0x7f);
                v >>>= 7;
                out.write(v != 0 ? b | 0x80 : b);
            } while (v != 0);
        }
    }

    /**
     * SHA-384 of the TD HOB OVMF builds for {@code memoryBytes} of memory: a PHIT HOB, then one resource
     * descriptor per range of {@code [0, memory)} after accepting the layout's ranges (accepted: type 0, others:
     * type 7), the last one split at 2 GiB and moved above 4 GiB when memory is at least {@link #SPLIT_MIN_MEMORY}.
     *
     * @throws MeasureException {@code CONFIG_INVALID} for a non-positive memory size
     */
    public static byte[] tdHobDigest(TdHobLayout layout, long memoryBytes) throws MeasureException {
        Objects.requireNonNull(layout, "layout");
        if (memoryBytes <= 0) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID,
                    "memory must be positive for the TD HOB, got " + memoryBytes);
        }
        List<long[]> ranges = new ArrayList<>(); // {accepted 0/1, start, end}
        ranges.add(new long[] {0, 0, memoryBytes});
        for (Range r : layout.acceptedRanges()) {
            accept(ranges, r.address(), r.address() + r.length());
        }
        ByteBuffer hob = ByteBuffer.allocate(56 + 48 * (ranges.size() + 1)).order(ByteOrder.LITTLE_ENDIAN);
        // PHIT HOB: type 1, length 56, reserved, version 9, boot mode, memory top/bottom, free top/bottom, end of list
        hob.putShort((short) 1).putShort((short) 56).putInt(0).putInt(9).putInt(0);
        hob.putLong(0).putLong(0).putLong(0).putLong(0).putLong(0);
        long[] last = ranges.remove(ranges.size() - 1);
        for (long[] r : ranges) {
            resource(hob, r[0] == 1 ? 0x00 : 0x07, r[1], r[2] - r[1]);
        }
        if (memoryBytes >= SPLIT_MIN_MEMORY) {
            if (last[1] < 0x80000000L) {
                resource(hob, 0x07, last[1], 0x80000000L - last[1]);
            }
            if (last[2] > 0x80000000L) {
                resource(hob, 0x07, 0x100000000L, last[2] - 0x80000000L);
            }
        } else {
            resource(hob, 0x07, last[1], last[2] - last[1]);
        }
        int len = hob.position();
        hob.putLong(48, layout.tdHobAddress() + len + 8);
        return LiteHash.sha384(Arrays.copyOf(hob.array(), len));
    }

    private static void resource(ByteBuffer b, int type, long start, long length) {
        b.putShort((short) 3).putShort((short) 48).putInt(0); // type, length, reserved
        b.put(new byte[16]); // owner GUID
        b.put((byte) type).put(new byte[3]);
        b.putInt(7); // resource attributes
        b.putLong(start).putLong(length);
    }

    /** Carves {@code [start, end)} out of the unaccepted ranges and keeps them sorted by start (stable). */
    private static void accept(List<long[]> ranges, long start, long end) {
        if (start >= end) {
            return;
        }
        List<long[]> out = new ArrayList<>();
        for (long[] r : ranges) {
            if (r[0] == 1 || r[2] <= start || r[1] >= end) {
                out.add(r);
            } else {
                if (r[1] < start) {
                    out.add(new long[] {0, r[1], start});
                }
                if (r[2] > end) {
                    out.add(new long[] {0, end, r[2]});
                }
            }
        }
        out.add(new long[] {1, start, end});
        out.sort(Comparator.comparingLong(r -> r[1]));
        ranges.clear();
        ranges.addAll(out);
    }

    /**
     * The digest of an EFI variable event as OVMF measures an absent variable: SHA-384 of the vendor GUID
     * (first three fields little-endian) ‖ u64 LE name length in characters ‖ u64 LE 0 (data length) ‖ UTF-16LE
     * name.
     */
    public static byte[] efiVariableDigest(String vendorGuid, String name) {
        String[] g = vendorGuid.split("-");
        if (g.length != 5) {
            throw new IllegalArgumentException("GUID must have 5 groups: " + vendorGuid);
        }
        byte[] utf16 = name.getBytes(StandardCharsets.UTF_16LE);
        ByteBuffer b = ByteBuffer.allocate(32 + utf16.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 5; i++) {
            byte[] raw = HexFormat.of().parseHex(g[i]);
            for (int j = 0; j < raw.length; j++) {
                b.put(i <= 2 ? raw[raw.length - 1 - j] : raw[j]);
            }
        }
        b.putLong(name.length()).putLong(0).put(utf16);
        return LiteHash.sha384(b.array());
    }

    /**
     * The 13-event RTMR0 log of OVMF {@code pre202505}, in the order of {@link #EVENT_NAMES}.
     *
     * @param tdHobDigest {@link #tdHobDigest}
     * @param acpi the three ACPI digests
     */
    public static List<byte[]> log(byte[] tdHobDigest, AcpiDigests acpi) {
        if (tdHobDigest.length != 48) {
            throw new IllegalArgumentException("TD HOB digest must be 48 bytes, got " + tdHobDigest.length);
        }
        List<byte[]> log = new ArrayList<>(13);
        log.add(tdHobDigest.clone());
        log.add(HexFormat.of().parseHex(CFV_IMAGE_DIGEST));
        log.add(efiVariableDigest(EFI_GLOBAL_VARIABLE_GUID, "SecureBoot"));
        log.add(efiVariableDigest(EFI_GLOBAL_VARIABLE_GUID, "PK"));
        log.add(efiVariableDigest(EFI_GLOBAL_VARIABLE_GUID, "KEK"));
        log.add(efiVariableDigest(EFI_IMAGE_SECURITY_DATABASE_GUID, "db"));
        log.add(efiVariableDigest(EFI_IMAGE_SECURITY_DATABASE_GUID, "dbx"));
        log.add(separatorDigest());
        log.addAll(acpi.inLogOrder());
        log.add(LiteHash.sha384(new byte[2])); // BootOrder: the raw two bytes 00 00
        log.add(HexFormat.of().parseHex(BOOT0000_DIGEST));
        return Collections.unmodifiableList(log);
    }

    /** {@code SHA-384(00 00 00 00)}, the EV_SEPARATOR digest (RTMR0 and RTMR1). */
    public static byte[] separatorDigest() {
        return LiteHash.sha384(new byte[4]);
    }

    /** An RTMR replay: 48 zero bytes, then {@code mr = SHA-384(mr ‖ d)} for each digest. */
    public static byte[] replay(List<byte[]> digests) {
        for (byte[] d : digests) {
            if (d.length != 48) {
                throw new IllegalArgumentException("RTMR event digests are 48 bytes, got " + d.length);
            }
        }
        return LiteHash.replay(digests);
    }

    /**
     * RTMR0 of {@code machine} with the TD HOB {@code layout}, if the ACPI digests are given; empty otherwise
     * ({@link #unavailableReason} says why).
     *
     * @throws MeasureException {@code CONFIG_UNSUPPORTED} for an OVMF variant other than {@code pre202505}
     */
    public static Optional<byte[]> rtmr0(MachineConfig machine, TdHobLayout layout, Optional<AcpiDigests> acpi)
            throws MeasureException {
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(acpi, "acpi");
        if (!MachineConfig.OVMF_PRE202505.equals(machine.ovmfVariant())) {
            throw new MeasureException(MeasureException.Reason.CONFIG_UNSUPPORTED, "ovmf_variant '"
                    + machine.ovmfVariant() + "' has no known RTMR0 layout (only " + MachineConfig.OVMF_PRE202505 + ")");
        }
        if (acpi.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(replay(log(tdHobDigest(layout, machine.memoryBytes()), acpi.get())));
    }

    /**
     * Why RTMR0 of {@code machine} cannot be computed here without the ACPI digests: QEMU builds the ACPI tables
     * from the exact topology (cpus, memory, PCI hole, GPUs, NVSwitches, NICs, hotplug, QEMU version), and their
     * three digests are RTMR0 events 9–11.
     */
    public static String unavailableReason(MachineConfig machine) {
        return "legacy RTMR0 needs QEMU's ACPI tables for this topology (cpus " + machine.cpus() + ", memory "
                + machine.memoryBytes() + " bytes, pci_hole64 " + machine.pciHole64() + ", gpus " + machine.gpus()
                + ", nvswitches " + machine.nvswitches() + ", nics " + machine.nics() + ", hotplug_off "
                + machine.hotplugOff() + ", qemu " + machine.qemuVersion() + "), which atlas-measure does not generate"
                + " (dstack-mr runs dstack-acpi-tables, a patched QEMU); the lite check (atlas measure check) takes the"
                + " three ACPI digests from the guest's event log instead";
    }

    /** Bounded LEB128 reader of the witness; errors name the varint and its offset. */
    private static final class Varints {
        private final byte[] b;
        private int pos;

        Varints(byte[] b) {
            this.b = b;
        }

        long next(String field) throws MeasureException {
            int at = pos;
            long value = 0;
            int shift = 0;
            while (true) {
                if (pos >= b.length) {
                    throw invalid(field, at, "truncated TD HOB witness varint");
                }
                int x = b[pos++] & 0xff;
                if (shift == 63 && (x & 0x7e) != 0) {
                    throw invalid(field, at, "TD HOB witness varint is larger than 64 bits");
                }
                value |= ((long) (x & 0x7f)) << shift;
                if ((x & 0x80) == 0) {
                    return value;
                }
                shift += 7;
                if (shift >= 64) {
                    throw invalid(field, at, "TD HOB witness varint is too large");
                }
            }
        }

        long page(String field) throws MeasureException {
            int at = pos;
            long v = next(field);
            if (v < 0 || v > MAX_PAGE) {
                throw invalid(field, at, "page number " + Long.toUnsignedString(v) + " is above 2^51");
            }
            return v;
        }

        long address(long base, long delta, String field) throws MeasureException {
            long p = base + delta;
            if (p > MAX_PAGE) {
                throw invalid(field, pos, "page " + base + " + " + delta + " is above 2^51");
            }
            return p * PAGE;
        }

        MeasureException invalid(String field, int offset, String detail) {
            return new MeasureException(MeasureException.Reason.LITE_DOCUMENT_INVALID,
                    "measurement.tdx.cbor tdvf.td_hob." + field, offset, detail);
        }
    }
}
