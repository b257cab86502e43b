package dev.atlas.measure;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.Bootchain;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;

/**
 * The expected boot registers of a dstack CVM: MRTD, RTMR1, RTMR2 and, where it could be computed, RTMR0 (lowercase
 * hex, 48 bytes each). {@link #rtmr0Note()} says how RTMR0 was obtained, or why it is absent (legacy RTMR0 needs
 * QEMU's ACPI tables for the exact topology; the lite check replays the logged ACPI digests instead).
 */
public record ExpectedMeasurements(String mrtd, Optional<String> rtmr0, String rtmr0Note, String rtmr1, String rtmr2) {

    /** Why RTMR0 is absent when nothing supplied it. */
    public static final String RTMR0_NOT_COMPUTED =
            "not computed: needs QEMU's ACPI tables; use the lite check (atlas measure check)";

    /** How RTMR0 was computed when the ACPI digests were supplied. */
    public static final String RTMR0_FROM_ACPI_DIGESTS =
            "computed from the TDVF TD HOB layout, the fixed OVMF events and the supplied ACPI digests";

    /** Checks every register is 96 lowercase hex characters. */
    public ExpectedMeasurements {
        checkHex("mrtd", mrtd);
        Objects.requireNonNull(rtmr0, "rtmr0");
        rtmr0.ifPresent(v -> checkHex("rtmr0", v));
        Objects.requireNonNull(rtmr0Note, "rtmr0Note");
        checkHex("rtmr1", rtmr1);
        checkHex("rtmr2", rtmr2);
    }

    /**
     * Computes MRTD, RTMR1 and RTMR2 of an image for a machine; RTMR0 absent with {@link #RTMR0_NOT_COMPUTED}.
     */
    public static ExpectedMeasurements compute(ImageDirectory image, MachineConfig machine) throws MeasureException {
        return compute(image, machine, Optional.empty());
    }

    /**
     * Computes MRTD, RTMR1, RTMR2 and, when the three ACPI digests are given (from QEMU's tables for this topology,
     * for example the {@code acpi-loader}/{@code acpi-rsdp}/{@code acpi-tables} events of a trusted boot's log),
     * RTMR0 from the TDVF's TD HOB layout and {@link Rtmr0Fixed}'s fixed events.
     */
    public static ExpectedMeasurements compute(ImageDirectory image, MachineConfig machine,
            Optional<Rtmr0Fixed.AcpiDigests> acpi) throws MeasureException {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(acpi, "acpi");
        Objects.requireNonNull(machine, "machine");
        byte[] fw = image.read("bios", TdvfMetadata.MAX_FIRMWARE_SIZE);
        image.checkListed("bios", ImageDirectory.sha256(fw));
        TdvfMetadata tdvf = TdvfMetadata.parse(fw);
        byte[] mrtd = Mrtd.compute(tdvf, machine);
        Optional<byte[]> rtmr0 = acpi.isPresent() ? Rtmr0Fixed.rtmr0(machine, tdvf.tdHobLayout(), acpi)
                : Optional.empty();
        byte[] kernel = image.read("kernel", PeImage.MAX_IMAGE_SIZE);
        image.checkListed("kernel", ImageDirectory.sha256(kernel));
        ImageDirectory.InitrdDigest initrd = image.digestInitrd();
        byte[] rtmr1 = Rtmr1.compute(kernel, initrd.size(), machine.memoryBytes());
        byte[] rtmr2 = Rtmr2.compute(image.cmdline(), initrd.sha384());
        HexFormat hex = HexFormat.of();
        return new ExpectedMeasurements(hex.formatHex(mrtd), rtmr0.map(hex::formatHex),
                rtmr0.isPresent() ? RTMR0_FROM_ACPI_DIGESTS : RTMR0_NOT_COMPUTED, hex.formatHex(rtmr1),
                hex.formatHex(rtmr2));
    }

    /** This value with RTMR0 set (from the lite check, {@code Rtmr0Fixed} or dstack-mr), {@code note} saying how. */
    public ExpectedMeasurements withRtmr0(String rtmr0Hex, String note) {
        return new ExpectedMeasurements(mrtd, Optional.of(rtmr0Hex), note, rtmr1, rtmr2);
    }

    /**
     * The JSON document {@code {"mrtd":…, "rtmr0":… or null, "rtmr0_note":…, "rtmr1":…, "rtmr2":…}}.
     */
    public ObjectNode toJsonNode() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("mrtd", mrtd);
        if (rtmr0.isPresent()) {
            o.put("rtmr0", rtmr0.get());
        } else {
            o.putNull("rtmr0");
        }
        o.put("rtmr0_note", rtmr0Note);
        o.put("rtmr1", rtmr1);
        o.put("rtmr2", rtmr2);
        return o;
    }

    /** {@link #toJsonNode()} as compact JSON text. */
    public String toJson() {
        return toJsonNode().toString();
    }

    /**
     * The Atlas policy's {@code expected_bootchain} (atlas-dstack's {@link Bootchain}); needs RTMR0.
     *
     * @throws MeasureException {@code RTMR0_UNAVAILABLE} when RTMR0 is absent (the message says why)
     */
    public Bootchain toPolicyBootchain() throws MeasureException {
        if (rtmr0.isEmpty()) {
            throw new MeasureException(MeasureException.Reason.RTMR0_UNAVAILABLE,
                    "an Atlas policy expected_bootchain needs rtmr0, which is " + rtmr0Note);
        }
        return Bootchain.of(mrtd, rtmr0.get(), rtmr1, rtmr2);
    }

    /** The {@code {"expected_bootchain": {mrtd, rtmr0, rtmr1, rtmr2}}} block of an Atlas policy; needs RTMR0. */
    public ObjectNode toPolicyBlock() throws MeasureException {
        Bootchain b = toPolicyBootchain();
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ObjectNode bc = o.putObject("expected_bootchain");
        for (String f : new String[] {"mrtd", "rtmr0", "rtmr1", "rtmr2"}) {
            bc.put(f, b.field(f));
        }
        return o;
    }

    /**
     * The block to merge into an Atlas policy ({@code docs/policy.md}): {@code {"expected_bootchain": {...}}} plus
     * {@code "os_image_hash"} when given (an image's {@code digest.txt}). A policy also needs the app's compose
     * ({@code app_compose}, {@code app_compose_raw} or {@code expected_compose_hash}), which an image cannot give.
     * Needs RTMR0.
     */
    public ObjectNode toPolicyBlock(Optional<String> osImageHash) throws MeasureException {
        ObjectNode o = toPolicyBlock();
        osImageHash.ifPresent(h -> o.put("os_image_hash", h));
        return o;
    }

    private static void checkHex(String field, String v) {
        Objects.requireNonNull(v, field);
        if (v.length() != 96 || !v.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            throw new IllegalArgumentException(field + " must be 96 lowercase hex characters (48 bytes), got "
                    + v.length() + " characters");
        }
    }
}
