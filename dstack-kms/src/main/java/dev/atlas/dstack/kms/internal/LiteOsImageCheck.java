package dev.atlas.dstack.kms.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.kms.KmsConfig;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.TdxEvent;
import dev.atlas.measure.LiteCheck;
import dev.atlas.measure.MeasureException;
import dev.atlas.tdx.AttestationException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The KMS's OS-image verification (spec §2.8 step 5) for TDX, "lite" form: an adapter from {@link OsImageCheck} to
 * atlas-measure's {@link LiteCheck} (upstream {@code verifier/src/verification.rs}
 * {@code verify_os_image_hash_for_dstack_tdx_lite}). From the caller's {@code vm_config.tdx_measurement}
 * ({@code sha256sum.txt} + {@code measurement.tdx.cbor}, bound to the claimed {@code os_image_hash}) and the three
 * RTMR0 {@code ACPI DATA} digests of its event log, atlas-measure recomputes MRTD and RTMR0–2 and requires them
 * equal to the quote's. No image download, no QEMU; the ACPI table contents are not validated (as upstream's lite
 * path). This class only converts the KMS's inputs ({@link TdxEvent}s to an {@link EventLog}) and maps
 * {@link MeasureException} to {@link RaException} (refusals {@code OS_IMAGE_MISMATCH} with upstream's texts).
 *
 * <p>A boot whose {@code tdx_attestation_variant} is {@code legacy} (or absent) needs upstream's full path (image
 * download into {@code image.cache_dir}, QEMU-generated ACPI tables); that path is not implemented, so with
 * {@code image.verify = true} such a caller is refused with {@code OS_IMAGE_MISMATCH} naming what was missing and
 * where it would have come from. With {@code image.verify = false} nothing is checked (dstack logs "Image
 * verification is disabled"). See {@code docs/dstack-kms-osimage.md}.
 */
public final class LiteOsImageCheck implements OsImageCheck {
    /** The image hash in atlas-measure's legacy-variant detail ("... downloading OS image <hex> and ..."). */
    private static final Pattern LEGACY_IMAGE = Pattern.compile("OS image ([0-9a-f]*) ");

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
     * @throws RaException {@code OS_IMAGE_MISMATCH} for a refusal, a decoder reason ({@code WRONG_TYPE},
     *                     {@code BAD_CONFIG}, {@code BAD_QUOTE}, …) for an unreadable input (see
     *                     {@link #toRaException})
     */
    public void check(byte[] quote, List<TdxEvent> eventLog, String vmConfig) throws RaException {
        if (!enabled) {
            return;
        }
        Objects.requireNonNull(quote, "quote");
        Objects.requireNonNull(vmConfig, "vmConfig");
        EventLog log = bootEvents(eventLog);
        try {
            LiteCheck.check(quote, log, vmConfig);
        } catch (MeasureException e) {
            throw toRaException(e);
        }
    }

    /**
     * The RTMR0–2 events of the caller's log as atlas-dstack's {@link EventLog} (the lite check reads no other:
     * RTMR3's runtime events, which may be dstack V2 events, are the caller verifier's business).
     *
     * @throws RaException {@code OS_IMAGE_MISMATCH} on {@code event_log} for an entry atlas-dstack refuses (a digest
     *                     longer than 48 bytes, a name or payload over its limit, more than 4096 entries)
     */
    static EventLog bootEvents(List<TdxEvent> eventLog) throws RaException {
        HexFormat hex = HexFormat.of();
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (TdxEvent e : eventLog) {
            if (e.imr() > 2) {
                continue;
            }
            ObjectNode o = arr.addObject();
            o.put("imr", e.imr());
            o.put("event_type", e.eventType());
            o.put("digest", hex.formatHex(e.digest()));
            o.put("event", e.event());
            o.put("event_payload", hex.formatHex(e.payload()));
        }
        try {
            return EventLog.fromJson(arr);
        } catch (AttestationException e) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "event_log", "TDX event log not usable for the OS-image"
                    + " check: " + e.getMessage());
        }
    }

    /**
     * atlas-measure's refusal as the KMS's: the field is the exception's structure ({@code vm_config.os_image_hash},
     * {@code quote.rtmr0}, {@code event_log}, …), the message its detail, except
     * <ul>
     * <li>a legacy boot: the KMS's text naming the image cache path and the download URL;</li>
     * <li>a register mismatch: upstream's {@code Mrs::assert_eq} text only
     *     ({@code MRs do not match: <REG> mismatch: expected=…, actual=…}), without atlas-measure's diagnosis.</li>
     * </ul>
     * Reasons: an unreadable vm_config ({@code LITE_RESPONSE_INVALID}) gets the KMS's decoder reason
     * ({@link #vmConfigReason}), an unreadable quote
     * {@code BAD_QUOTE}, a malformed {@code measurement.tdx.cbor}, {@code sha256sum.txt} or TD HOB witness
     * ({@code LITE_DOCUMENT_INVALID}) {@code WRONG_TYPE}, a malformed machine value ({@code CONFIG_INVALID}, e.g.
     * {@code qemu_version = "8.2"}) {@code WRONG_TYPE}; every other reason is a refusal, {@code OS_IMAGE_MISMATCH}.
     */
    RaException toRaException(MeasureException e) {
        String structure = e.structure().orElse(null);
        String detail = detail(e);
        switch (e.measureReason()) {
            case LITE_RESPONSE_INVALID:
                return structure != null && structure.startsWith("quote")
                        ? new RaException(Reason.BAD_QUOTE, structure, detail, e)
                        : new RaException(vmConfigReason(detail), field(structure, detail), detail, e);
            case LITE_PLATFORM_UNSUPPORTED:
                return structure != null && structure.startsWith("quote")
                        ? new RaException(Reason.BAD_QUOTE, structure, detail, e)
                        : new RaException(Reason.OS_IMAGE_MISMATCH, field(structure, detail), detail, e);
            case LITE_DOCUMENT_INVALID:
            case CONFIG_INVALID:
                return new RaException(Reason.WRONG_TYPE, field(structure, detail), detail, e);
            case LITE_VARIANT_UNSUPPORTED:
                return new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.tdx_attestation_variant",
                        legacyRefusal(detail), e);
            case LITE_MRTD_MISMATCH:
            case LITE_RTMR0_MISMATCH:
            case LITE_RTMR1_MISMATCH:
            case LITE_RTMR2_MISMATCH: {
                int cut = detail.indexOf(';');
                int paren = detail.indexOf(" (");
                int end = cut < 0 ? paren : paren < 0 ? cut : Math.min(cut, paren);
                String upstream = end < 0 ? detail : detail.substring(0, end);
                return new RaException(Reason.OS_IMAGE_MISMATCH, structure, upstream, e);
            }
            default:
                return new RaException(Reason.OS_IMAGE_MISMATCH, field(structure, detail), detail, e);
        }
    }

    /**
     * The KMS's decoder reason for an unreadable vm_config, from atlas-measure's detail (its {@code LiteVmConfig}
     * words): not one JSON value {@code BAD_CONFIG}, unknown enum value {@code UNKNOWN_VARIANT}, a missing member of
     * {@code tdx_measurement} {@code MISSING_FIELD}, over a limit {@code TOO_LARGE}, else {@code WRONG_TYPE}.
     */
    static Reason vmConfigReason(String detail) {
        if (detail.startsWith("not one JSON value")) {
            return Reason.BAD_CONFIG;
        }
        if (detail.startsWith("unknown variant")) {
            return Reason.UNKNOWN_VARIANT;
        }
        if (detail.startsWith("missing field")) {
            return Reason.MISSING_FIELD;
        }
        if (detail.contains("more than the limit") || detail.contains("base64 characters, more than")) {
            return Reason.TOO_LARGE;
        }
        return Reason.WRONG_TYPE;
    }

    private String legacyRefusal(String detail) {
        Matcher m = LEGACY_IMAGE.matcher(detail);
        String image = m.find() ? m.group(1) : "";
        return "legacy TDX OS-image verification is not supported: it needs the OS image " + image
                + " (looked for in " + cacheDir.resolve("images").resolve(image.isEmpty() ? "<none>" : image)
                + ", else downloaded from " + downloadUrl.replace("{OS_IMAGE_HASH}", image)
                + ") and QEMU's ACPI tables; only tdx_attestation_variant = \"lite\" with "
                + "vm_config.tdx_measurement is verified (or set image.verify = false)";
    }

    /**
     * The exception's message without the {@code "<COARSE>: <REASON>: "} prefix and {@code " (<structure>[ at
     * offset 0x…])"} suffix.
     */
    static String detail(MeasureException e) {
        String s = e.getMessage();
        String marker = e.measureReason().name() + ": ";
        int at = s.indexOf(marker);
        if (at >= 0) {
            s = s.substring(at + marker.length());
        }
        if (e.structure().isPresent()) {
            String tail = " (" + e.structure().get()
                    + (e.offset().isPresent() ? " at offset 0x" + Long.toHexString(e.offset().getAsLong()) : "") + ")";
            if (s.endsWith(tail)) {
                s = s.substring(0, s.length() - tail.length());
            }
        }
        return s;
    }

    /**
     * The field of a refusal: the structure when it names one in the caller's input; for a machine value
     * ({@link dev.atlas.measure.MachineConfig} names the option first, without a structure) the vm_config member.
     */
    private static String field(String structure, String detail) {
        if (structure != null) {
            return structure;
        }
        String option = detail.split("[ =]", 2)[0];
        switch (option) {
            case "cpus": return "vm_config.cpu_count";
            case "memory": return "vm_config.memory_size";
            case "pci_hole64": return "vm_config.pci_hole64_size";
            case "gpus": return "vm_config.num_gpus";
            case "nvswitches": return "vm_config.num_nvswitches";
            case "nics": return "vm_config.num_nics";
            case "verity_volumes": return "vm_config.num_verity_volumes";
            case "qemu_version", "host_share_mode", "ovmf_variant", "swtpm": return "vm_config." + option;
            default: return "vm_config";
        }
    }
}
