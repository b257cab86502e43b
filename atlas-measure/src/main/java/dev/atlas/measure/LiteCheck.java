package dev.atlas.measure;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.EventLog;
import dev.atlas.dstack.EventLogEntry;
import dev.atlas.dstack.QuoteResponse;
import dev.atlas.measure.internal.LiteHash;
import dev.atlas.measure.internal.LiteVmConfig;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TdReport;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The lite OS-image check of a dstack TDX CVM (spec §2.8 step 5, §6.6 "Lite verification"), on a guest agent's
 * GetQuote response ({@code quote}, {@code event_log}, {@code vm_config}): without the image and without QEMU,
 * it checks that the quote's MRTD and RTMR0–2 are what the image named by {@code vm_config.os_image_hash}
 * produces on the machine {@code vm_config} describes. In upstream's order
 * ({@code verifier/src/verification.rs} {@code verify_os_image_hash_for_dstack_tdx_lite}):
 * <ol>
 * <li>the quote is a TDX quote and the vm_config is not another platform's (SEV-SNP is refused);</li>
 * <li>{@code tdx_attestation_variant} is {@code lite} (a legacy boot needs the image and QEMU's ACPI tables);</li>
 * <li>{@code vm_config.tdx_measurement} is present, {@code SHA-256(sha256sum.txt) = os_image_hash}, and the
 *     document's {@code sha256sum.txt} line matches ({@link MeasurementDocument#verify});</li>
 * <li>the document decodes ({@link MeasurementDocument#decode});</li>
 * <li>the event log holds exactly one 48-byte RTMR0 {@code ACPI DATA} event for each of {@code acpi-loader},
 *     {@code acpi-rsdp}, {@code acpi-tables} ({@link #acpiDigests});</li>
 * <li>{@code memory_size} is 2 GiB or at least {@code 0xB0000000};</li>
 * <li>the machine configuration is one atlas-measure supports ({@link MachineConfig}; swtpm refused);</li>
 * <li>MRTD, RTMR0, RTMR1, RTMR2 of {@link MeasurementDocument#expected} equal the quote's, in that order.</li>
 * </ol>
 * RTMR0 is the replay of {@link Rtmr0Fixed#log}: the fixed events computed here (TD HOB from the document's
 * witness and the memory size, CFV image, EFI variables, separator, {@code BootOrder}, {@code Boot0000}) and the
 * three ACPI digests as logged. The ACPI table contents are not checked (as upstream's lite path); a tampered
 * logged digest changes the replay and fails against the quote.
 *
 * <p>The quote's signature and collateral are not checked here: run this on a response whose quote a verifier
 * ({@code dev.atlas.dstack.DstackTdxVerifier}) accepted, or read the result as "consistent", not "trusted".
 */
public final class LiteCheck {
    /** Event type of the RTMR0 {@code ACPI DATA} events (EV_PLATFORM_CONFIG_FLAGS). */
    public static final long ACPI_DATA_EVENT_TYPE = 10;
    /** Their payload (the stripped marker; the full log carries the same). */
    public static final String ACPI_DATA_PAYLOAD = "ACPI DATA";
    /** The guest's names of the three ACPI events, in log order. */
    public static final List<String> ACPI_EVENT_NAMES = List.of("acpi-loader", "acpi-rsdp", "acpi-tables");

    private static final long TDX_TEE_TYPE = 0x81;
    private static final String[] REGISTERS = {"MRTD", "RTMR0", "RTMR1", "RTMR2"};

    private LiteCheck() {}

    /**
     * Runs the check on a GetQuote response JSON text ({@code {"quote": hex, "event_log": ..., "vm_config": ...}};
     * see {@link QuoteResponse#parse}).
     *
     * @throws MeasureException {@code LITE_RESPONSE_INVALID} for a malformed response, else see {@link #check(byte[],
     *     EventLog, String)}
     */
    public static Result check(String getQuoteResponse) throws MeasureException {
        Objects.requireNonNull(getQuoteResponse, "getQuoteResponse");
        QuoteResponse r;
        try {
            r = QuoteResponse.parse(getQuoteResponse);
        } catch (AttestationException e) {
            throw new MeasureException(MeasureException.Reason.LITE_RESPONSE_INVALID, "GetQuote response", -1,
                    e.getMessage());
        }
        return check(r);
    }

    /** Runs the check on a parsed GetQuote response. */
    public static Result check(QuoteResponse response) throws MeasureException {
        return check(response.quote(), response.eventLog(), response.vmConfig());
    }

    /**
     * Runs the check.
     *
     * @param quote the TDX quote bytes
     * @param eventLog the event log (full or stripped: both keep the named ACPI events)
     * @param vmConfig the vm_config JSON (or a sys-config wrapping it as a string)
     * @return what was checked, with the expected registers
     * @throws MeasureException with the first failing check's reason (see the class comment)
     */
    public static Result check(byte[] quote, EventLog eventLog, String vmConfig) throws MeasureException {
        Objects.requireNonNull(quote, "quote");
        Objects.requireNonNull(eventLog, "eventLog");
        Objects.requireNonNull(vmConfig, "vmConfig");
        List<String> checks = new ArrayList<>();
        LiteVmConfig vm = LiteVmConfig.parse(vmConfig);
        TdReport report = tdReport(quote);
        if (vm.otherPlatformMember().isPresent()) {
            throw new MeasureException(MeasureException.Reason.LITE_PLATFORM_UNSUPPORTED, "vm_config."
                    + vm.otherPlatformMember().get(), -1, "the vm_config describes an AMD SEV-SNP launch, but the lite"
                    + " check is TDX only (SEV-SNP is verified from its launch measurement, which atlas-measure does"
                    + " not compute)");
        }
        checks.add("quote: TDX (v" + (quote.length >= 2 ? (quote[0] & 0xff) : 0) + "), registers read from its TD report"
                + " (signature not checked here)");
        if (!vm.variant().equals("lite")) {
            throw new MeasureException(MeasureException.Reason.LITE_VARIANT_UNSUPPORTED,
                    "vm_config.tdx_attestation_variant", -1, "tdx_attestation_variant is '" + vm.variant() + "'"
                    + " (absent means legacy): a legacy boot is verified by downloading OS image "
                    + LiteHash.hex(vm.osImageHash()) + " and regenerating its ACPI tables with QEMU (dstack-mr), which"
                    + " atlas-measure does not do; only 'lite' boots with vm_config.tdx_measurement are checked");
        }
        MeasurementDocument doc = vm.tdxMeasurement().orElseThrow(() -> new MeasureException(
                MeasureException.Reason.LITE_DOCUMENT_MISSING, "vm_config.tdx_measurement", -1,
                "tdx lite attestation requires vm_config.tdx_measurement (sha256sum.txt and measurement.tdx.cbor of"
                        + " OS image " + LiteHash.hex(vm.osImageHash()) + "); it is absent"));
        doc.verify(vm.osImageHash());
        checks.add("os_image_hash " + LiteHash.hex(vm.osImageHash()) + " = SHA-256(sha256sum.txt)");
        checks.add("sha256sum.txt lists " + MeasurementDocument.TDX_MEASUREMENT_FILENAME + " with its SHA-256 "
                + LiteHash.hex(LiteHash.sha256(doc.measurement())));
        MeasurementDocument.Content content = doc.decode();
        checks.add(MeasurementDocument.TDX_MEASUREMENT_FILENAME + " decoded: version " + MeasurementDocument.VERSION
                + ", ovmf " + content.ovmfVariant() + ", TD HOB witness " + LiteHash.hex(content.tdHobWitness()));
        Rtmr0Fixed.AcpiDigests acpi = acpiDigests(eventLog);
        checks.add("event log: one RTMR0 ACPI DATA event each for acpi-loader, acpi-rsdp, acpi-tables");
        MeasurementDocument.requireLiteMemory(vm.memorySize());
        MachineConfig machine = machine(vm);
        checks.add("machine: memory " + machine.memoryBytes() + " bytes, qemu " + machine.qemuVersion() + " ("
                + (machine.twoPassAddPages() ? "two-pass" : "single-pass") + " page adding)");
        ExpectedMeasurements expected = doc.expected(machine, Optional.of(acpi));
        byte[][] exp = {hex(expected.mrtd()), hex(expected.rtmr0().orElseThrow()), hex(expected.rtmr1()),
            hex(expected.rtmr2())};
        byte[][] act = {HexFormat.of().parseHex(report.mrTd()), report.rtmrBytes(0), report.rtmrBytes(1),
            report.rtmrBytes(2)};
        List<List<byte[]>> logs = List.of(List.of(), Rtmr0Fixed.log(Rtmr0Fixed.tdHobDigest(content.tdHob(),
                machine.memoryBytes()), acpi), MeasurementDocument.rtmr1Log(content.kernelAuthenticode()),
                MeasurementDocument.rtmr2Log(content.cmdlineSha384(), content.initrdSha384()));
        for (int i = 0; i < 4; i++) {
            if (!MessageDigest.isEqual(exp[i], act[i])) {
                throw mismatch(i, exp[i], act[i], logs.get(i), eventLog);
            }
            checks.add(REGISTERS[i] + " = " + LiteHash.hex(act[i]) + (i == 0
                    ? " (" + (machine.twoPassAddPages() ? "two_pass" : "single_pass") + " candidate of the document)"
                    : i == 1 ? " (replay of the TD HOB, fixed OVMF events and the logged ACPI digests)"
                    : i == 2 ? " (replay of the document's kernel digest and the fixed EFI boot events)"
                    : " (replay of the document's command-line and initrd digests)"));
        }
        for (int rtmr = 0; rtmr < 3; rtmr++) {
            List<byte[]> logged = logged(eventLog, rtmr);
            checks.add(sameLog(logged, logs.get(rtmr + 1))
                    ? "event log: its " + logged.size() + " RTMR" + rtmr + " events equal the expected ones"
                    : "event log: its RTMR" + rtmr + " events differ from the expected ones (a stripped log?); not"
                            + " used, the quote's RTMR" + rtmr + " decided");
        }
        return new Result(vm.osImageHash(), machine, expected, acpi, checks);
    }

    /**
     * The three RTMR0 {@code ACPI DATA} digests of an event log (upstream's {@code tdx_acpi_hashes_from_event_log}):
     * among the RTMR0 events, those of type 10 with payload {@code "ACPI DATA"} must be exactly three, one named
     * each of {@link #ACPI_EVENT_NAMES}, each digest 48 bytes.
     *
     * @throws MeasureException {@code LITE_ACPI_EVENTS_INVALID} saying what was found
     */
    public static Rtmr0Fixed.AcpiDigests acpiDigests(EventLog eventLog) throws MeasureException {
        byte[] marker = ACPI_DATA_PAYLOAD.getBytes(StandardCharsets.US_ASCII);
        int rtmr0 = 0;
        List<EventLogEntry> candidates = new ArrayList<>();
        for (EventLogEntry e : eventLog.entries()) {
            if (e.imr() != 0) {
                continue;
            }
            rtmr0++;
            if (e.eventType() == ACPI_DATA_EVENT_TYPE && Arrays.equals(e.payload(), marker)) {
                candidates.add(e);
            }
        }
        if (candidates.size() != 3) {
            throw new MeasureException(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, "event_log", -1,
                    "TDX lite attestation requires exactly 3 RTMR0 ACPI DATA events; found " + candidates.size()
                            + " candidates and " + rtmr0 + " RTMR0 events");
        }
        byte[][] d = new byte[3][];
        for (int i = 0; i < 3; i++) {
            String name = ACPI_EVENT_NAMES.get(i);
            List<EventLogEntry> match = new ArrayList<>();
            for (EventLogEntry e : candidates) {
                if (e.event().equals(name)) {
                    match.add(e);
                }
            }
            if (match.size() != 1) {
                throw new MeasureException(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, "event_log", -1,
                        "TDX lite attestation requires exactly one RTMR0 ACPI DATA event named " + name + "; found "
                                + match.size());
            }
            d[i] = match.get(0).digest();
            if (d[i].length != 48) {
                throw new MeasureException(MeasureException.Reason.LITE_ACPI_EVENTS_INVALID, "event_log", -1,
                        "TDX RTMR0 ACPI DATA event " + name + " has invalid digest length " + d[i].length
                                + ", expected 48");
            }
        }
        return new Rtmr0Fixed.AcpiDigests(d[0], d[1], d[2]);
    }

    private static TdReport tdReport(byte[] quote) throws MeasureException {
        if (quote.length >= 8) {
            long tee = (quote[4] & 0xffL) | (quote[5] & 0xffL) << 8 | (quote[6] & 0xffL) << 16 | (quote[7] & 0xffL) << 24;
            if (tee != TDX_TEE_TYPE) {
                throw new MeasureException(MeasureException.Reason.LITE_PLATFORM_UNSUPPORTED, "quote.header.tee_type", 4,
                        "tee type 0x" + Long.toHexString(tee) + " is not TDX (0x81): the lite check is TDX only (SGX,"
                                + " SEV-SNP and other TEEs are not supported)");
            }
        }
        TdReport r;
        try {
            r = Quote.parse(quote).tdReport();
        } catch (AttestationException | RuntimeException e) {
            throw new MeasureException(MeasureException.Reason.LITE_RESPONSE_INVALID, "quote", -1,
                    "not a TDX quote: " + e.getMessage());
        }
        if (r == null) {
            throw new MeasureException(MeasureException.Reason.LITE_PLATFORM_UNSUPPORTED, "quote", -1,
                    "the quote has no TD report: the lite check is TDX only");
        }
        return r;
    }

    /**
     * The machine of a lite vm_config, as upstream's {@code select_mrtd} builds it: {@code qemu_single_pass_add_pages}
     * is passed to the page-add order unchanged (upstream's {@code .maybe_two_pass_add_pages(vm_config
     * .qemu_single_pass_add_pages)}), {@code pci_hole64_size} 0 means QEMU's default.
     */
    private static MachineConfig machine(LiteVmConfig vm) throws MeasureException {
        if (vm.memorySize() < 0) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "vm_config.memory_size", -1,
                    Long.toUnsignedString(vm.memorySize()) + " bytes is larger than 2^63");
        }
        if (vm.pciHole64Size() < 0) {
            throw new MeasureException(MeasureException.Reason.CONFIG_INVALID, "vm_config.pci_hole64_size", -1,
                    Long.toUnsignedString(vm.pciHole64Size()) + " bytes is larger than 2^63");
        }
        MachineConfig.Builder b = MachineConfig.builder()
                .cpus(clampInt(vm.cpuCount()))
                .memoryBytes(vm.memorySize())
                .pciHole64(vm.pciHole64Size())
                .gpus(clampInt(vm.numGpus()))
                .nvswitches(clampInt(vm.numNvswitches()))
                .nics(clampInt(vm.numNics()))
                .verityVolumes(clampInt(vm.numVerityVolumes()))
                .hotplugOff(vm.hotplugOff())
                .twoPassAddPages(vm.qemuSinglePassAddPages().orElse(null))
                .pic(vm.pic().orElse(null))
                .hugepages(vm.hugepages())
                .hostShareMode(vm.hostShareMode())
                .swtpm(vm.swtpm());
        if (vm.qemuVersion().isPresent()) {
            b.qemuVersion(vm.qemuVersion().get());
        }
        if (vm.ovmfVariant().isPresent()) {
            b.ovmfVariant(vm.ovmfVariant().get());
        }
        return b.build();
    }

    private static int clampInt(long v) {
        return v > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) v;
    }

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }

    /**
     * A register mismatch with upstream's text ({@code MRs do not match: <REG> mismatch: expected=…, actual=…}) and
     * where the logged events of that register depart from the expected log.
     */
    private static MeasureException mismatch(int reg, byte[] expected, byte[] actual, List<byte[]> expectedLog,
            EventLog eventLog) {
        MeasureException.Reason[] reasons = {MeasureException.Reason.LITE_MRTD_MISMATCH,
            MeasureException.Reason.LITE_RTMR0_MISMATCH, MeasureException.Reason.LITE_RTMR1_MISMATCH,
            MeasureException.Reason.LITE_RTMR2_MISMATCH};
        StringBuilder m = new StringBuilder("MRs do not match: ").append(REGISTERS[reg]).append(" mismatch: expected=")
                .append(LiteHash.hex(expected)).append(", actual=").append(LiteHash.hex(actual));
        String structure = "quote." + REGISTERS[reg].toLowerCase(java.util.Locale.ROOT);
        if (reg == 0) {
            m.append(" (the document's MRTD candidate for ").append("this QEMU version and page-add order differs)");
        } else {
            m.append("; ").append(diagnose(reg - 1, expectedLog, eventLog));
        }
        return new MeasureException(reasons[reg], structure, -1, m.toString());
    }

    private static List<byte[]> logged(EventLog eventLog, int rtmr) {
        List<byte[]> out = new ArrayList<>();
        for (EventLogEntry e : eventLog.entries()) {
            if (e.imr() == rtmr) {
                out.add(e.digest());
            }
        }
        return out;
    }

    private static boolean sameLog(List<byte[]> a, List<byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!MessageDigest.isEqual(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    private static String diagnose(int rtmr, List<byte[]> expectedLog, EventLog eventLog) {
        List<EventLogEntry> logged = new ArrayList<>();
        List<Integer> index = new ArrayList<>();
        for (int i = 0; i < eventLog.entries().size(); i++) {
            EventLogEntry e = eventLog.entries().get(i);
            if (e.imr() == rtmr) {
                logged.add(e);
                index.add(i);
            }
        }
        String reg = "RTMR" + rtmr;
        for (int k = 0; k < Math.min(logged.size(), expectedLog.size()); k++) {
            byte[] d = logged.get(k).digest();
            if (!MessageDigest.isEqual(d, expectedLog.get(k))) {
                return "the first departure is " + reg + " event " + k + " (" + eventName(rtmr, k) + ", event_log["
                        + index.get(k) + "]): logged " + LiteHash.hex(d) + ", expected " + LiteHash.hex(expectedLog.get(k));
            }
        }
        if (logged.size() != expectedLog.size()) {
            return "the event log has " + logged.size() + " " + reg + " events, the expected log " + expectedLog.size();
        }
        if (rtmr == 0) {
            return "the logged RTMR0 events equal the expected log, so they do not replay to the quote's RTMR0 either:"
                    + " the event log was altered; the ACPI DATA events acpi-loader, acpi-rsdp, acpi-tables are taken"
                    + " from it as logged (" + String.join(", ", acpiLogged(expectedLog)) + ")";
        }
        return "the logged " + reg + " events equal the expected log but do not replay to the quote's " + reg
                + ": the event log was altered";
    }

    private static List<String> acpiLogged(List<byte[]> log) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            out.add(ACPI_EVENT_NAMES.get(i) + "=" + LiteHash.hex(log.get(Rtmr0Fixed.ACPI_LOADER_INDEX + i)));
        }
        return out;
    }

    private static String eventName(int rtmr, int k) {
        if (rtmr == 0) {
            return k < Rtmr0Fixed.EVENT_NAMES.size() ? Rtmr0Fixed.EVENT_NAMES.get(k) : "extra event";
        }
        List<String> names = rtmr == 1 ? List.of("kernel Authenticode", "Calling EFI Application from Boot Option",
                "separator", "Exit Boot Services Invocation", "Exit Boot Services Returned with Success")
                : List.of("kernel command line", "initrd");
        return k < names.size() ? names.get(k) : "extra event";
    }

    /**
     * A passed lite check.
     *
     * @param osImageHash the verified {@code os_image_hash}
     * @param machine the machine the vm_config describes
     * @param expected the expected registers, all four equal to the quote's
     * @param acpi the three logged ACPI digests used for RTMR0 (not validated against table contents)
     * @param checks one line per check that passed, in order
     */
    public record Result(byte[] osImageHash, MachineConfig machine, ExpectedMeasurements expected,
            Rtmr0Fixed.AcpiDigests acpi, List<String> checks) {
        /** Copies. */
        public Result {
            osImageHash = osImageHash.clone();
            Objects.requireNonNull(machine, "machine");
            Objects.requireNonNull(expected, "expected");
            Objects.requireNonNull(acpi, "acpi");
            checks = Collections.unmodifiableList(new ArrayList<>(checks));
        }

        @Override
        public byte[] osImageHash() {
            return osImageHash.clone();
        }

        /** {@code {"valid":true,"os_image_hash":…,"registers":{…},"acpi":{…},"acpi_tables_verified":false,"checks":[…]}}. */
        public String toJson() {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            o.put("valid", true);
            o.put("os_image_hash", LiteHash.hex(osImageHash));
            o.set("registers", expected.toJsonNode());
            ObjectNode a = o.putObject("acpi");
            a.put("acpi-loader", LiteHash.hex(acpi.loader()));
            a.put("acpi-rsdp", LiteHash.hex(acpi.rsdp()));
            a.put("acpi-tables", LiteHash.hex(acpi.tables()));
            o.put("acpi_tables_verified", false);
            ArrayNode c = o.putArray("checks");
            checks.forEach(c::add);
            return o.toString();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Result && Arrays.equals(osImageHash, ((Result) o).osImageHash)
                    && expected.equals(((Result) o).expected) && checks.equals(((Result) o).checks);
        }

        @Override
        public int hashCode() {
            return expected.hashCode();
        }

        @Override
        public String toString() {
            return "LiteCheck.Result[os_image_hash=" + LiteHash.hex(osImageHash) + ", " + expected + "]";
        }
    }
}
