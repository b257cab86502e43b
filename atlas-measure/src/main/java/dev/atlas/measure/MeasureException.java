package dev.atlas.measure;

import dev.atlas.tdx.AttestationException;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The checked exception of {@code atlas-measure}, a member of the one {@link AttestationException} family.
 *
 * <p>{@link #reason()} (inherited) is the coarse {@link AttestationException.Reason}; {@link #measureReason()}
 * is the fine {@link MeasureException.Reason} saying which check of this module failed. For a malformed image
 * file, {@link #structure()} names the structure (for example {@code tdvf.section[2].attributes} or
 * {@code pe.optional_header.size_of_headers}) and {@link #offset()} the byte offset in the file where it lies.
 */
public final class MeasureException extends AttestationException {
    private static final long serialVersionUID = 1L;

    /** Which check of {@code atlas-measure} failed; each maps to exactly one coarse reason. */
    public enum Reason {
        /** A {@link MachineConfig} value out of range or malformed (cpus 0, memory not page aligned, bad version). */
        CONFIG_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** A combination dstack-mr cannot measure either: SEV, swtpm, an OVMF variant other than
         *  {@code pre202505}, QEMU older than 8.0. */
        CONFIG_UNSUPPORTED(AttestationException.Reason.INVALID_CONFIGURATION),
        /** An image file is missing, unreadable, a directory or outside the image directory. */
        FILE_UNREADABLE(AttestationException.Reason.INVALID_CONFIGURATION),
        /** An image file or document is larger than its limit. */
        FILE_TOO_LARGE(AttestationException.Reason.INVALID_CONFIGURATION),
        /** {@code metadata.json} (or {@code digest.txt}) is not the expected document: wrong type, missing or
         *  unknown field, trailing bytes. */
        METADATA_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The OVMF footer GUID table (at {@code len - 32}) is missing or malformed. */
        TDVF_FOOTER_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The TDVF metadata descriptor ({@code "TDVF"}, version, length, section count) is malformed. */
        TDVF_DESCRIPTOR_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** A TDVF section (data offset and size, address, memory size, type, attributes) is malformed. */
        TDVF_SECTION_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The kernel's PE/COFF headers (DOS header, PE signature, optional header, section table) are malformed. */
        PE_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** The kernel's Linux boot-protocol setup header cannot be patched (too short, old protocol, bad values). */
        KERNEL_SETUP_INVALID(AttestationException.Reason.INVALID_CONFIGURATION),
        /** RTMR0 was needed (a policy bootchain) but could not be computed without QEMU's ACPI tables. */
        RTMR0_UNAVAILABLE(AttestationException.Reason.INVALID_CONFIGURATION),
        /** {@code digest.txt} differs from SHA-256 of {@code sha256sum.txt}, or a file the measurement reads differs
         *  from its {@code sha256sum.txt} line. */
        IMAGE_DIGEST_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),

        // --- issue22-lite: its own values go below this line ---
        /** The GetQuote response or its {@code vm_config} is not the expected JSON: not one value, wrong type,
         *  duplicate member, too large, bad hex or base64 (the field is named). */
        LITE_RESPONSE_INVALID(AttestationException.Reason.MALFORMED_RESPONSE),
        /** The evidence is not a TDX quote, or the vm_config describes another platform (SEV-SNP): the lite check
         *  is TDX only. */
        LITE_PLATFORM_UNSUPPORTED(AttestationException.Reason.UNSUPPORTED_PLATFORM),
        /** {@code vm_config.tdx_attestation_variant} is not {@code lite} (absent means {@code legacy}): such a boot
         *  is verified by the image download and QEMU's ACPI tables, which this check does not do. */
        LITE_VARIANT_UNSUPPORTED(AttestationException.Reason.UNSUPPORTED_PLATFORM),
        /** {@code vm_config.memory_size} is neither 2 GiB nor at least {@code 0xB0000000}: the document's kernel
         *  digest is only valid for those sizes. */
        LITE_MEMORY_UNSUPPORTED(AttestationException.Reason.UNSUPPORTED_PLATFORM),
        /** {@code vm_config.tdx_measurement} is absent. */
        LITE_DOCUMENT_MISSING(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** {@code measurement.tdx.cbor}, {@code sha256sum.txt} or the TD HOB witness is malformed (structure and
         *  offset named). */
        LITE_DOCUMENT_INVALID(AttestationException.Reason.MALFORMED_ATTESTATION),
        /** {@code SHA-256(sha256sum.txt)} is not {@code vm_config.os_image_hash}. */
        LITE_OS_IMAGE_HASH_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** The {@code measurement.tdx.cbor} entry of {@code sha256sum.txt} is not the SHA-256 of the document. */
        LITE_MEASUREMENT_HASH_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** The event log does not hold exactly one 48-byte RTMR0 {@code ACPI DATA} event for each of
         *  {@code acpi-loader}, {@code acpi-rsdp}, {@code acpi-tables}. */
        LITE_ACPI_EVENTS_INVALID(AttestationException.Reason.MALFORMED_EVENT_LOG),
        /** The quote's MRTD is not the document's candidate for the machine's page-add order. */
        LITE_MRTD_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** The quote's RTMR0 is not the replay of the fixed parts and the logged ACPI digests. */
        LITE_RTMR0_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** The quote's RTMR1 is not the replay of the document's kernel digest and the fixed EFI events. */
        LITE_RTMR1_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH),
        /** The quote's RTMR2 is not the replay of the document's command-line and initrd digests. */
        LITE_RTMR2_MISMATCH(AttestationException.Reason.OS_IMAGE_HASH_MISMATCH);

        private final AttestationException.Reason coarse;

        Reason(AttestationException.Reason coarse) {
            this.coarse = coarse;
        }

        /** The coarse reason of the exception family. Never null. */
        public AttestationException.Reason coarse() {
            return coarse;
        }
    }

    private final Reason measureReason;
    private final String structure;
    private final long offset;

    /** A failure without a location in a file. */
    public MeasureException(Reason reason, String detail) {
        this(reason, null, -1, detail, null);
    }

    /** A failure with a cause (for example an {@link java.io.IOException}). */
    public MeasureException(Reason reason, String detail, Throwable cause) {
        this(reason, null, -1, detail, cause);
    }

    /**
     * A malformed structure: {@code structure} names it, {@code offset} is its byte offset in the file (or
     * {@code -1} if unknown); the message gets {@code " (<structure> at offset 0x...)"}.
     */
    public MeasureException(Reason reason, String structure, long offset, String detail) {
        this(reason, structure, offset, detail, null);
    }

    private MeasureException(Reason reason, String structure, long offset, String detail, Throwable cause) {
        super(Objects.requireNonNull(reason, "reason").coarse(), describe(reason, structure, offset, detail), cause);
        this.measureReason = reason;
        this.structure = structure;
        this.offset = offset;
    }

    private static String describe(Reason reason, String structure, long offset, String detail) {
        StringBuilder sb = new StringBuilder(reason.name()).append(": ").append(detail);
        if (structure != null) {
            sb.append(" (").append(structure);
            if (offset >= 0) {
                sb.append(" at offset 0x").append(Long.toHexString(offset));
            }
            sb.append(')');
        }
        return sb.toString();
    }

    /** Which check of this module failed. Never null. */
    public Reason measureReason() {
        return measureReason;
    }

    /** The malformed structure, for example {@code tdvf.section[1].mem_addr}; empty if the failure has none. */
    public Optional<String> structure() {
        return Optional.ofNullable(structure);
    }

    /** The byte offset of {@link #structure()} in its file; empty if unknown. */
    public OptionalLong offset() {
        return offset >= 0 ? OptionalLong.of(offset) : OptionalLong.empty();
    }
}
