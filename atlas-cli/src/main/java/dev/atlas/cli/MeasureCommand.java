package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.dstack.PolicyJson;
import dev.atlas.measure.ExpectedMeasurements;
import dev.atlas.measure.ImageDirectory;
import dev.atlas.measure.MachineConfig;
import dev.atlas.measure.MeasureException;
import dev.atlas.measure.Mrtd;
import dev.atlas.measure.Rtmr0Fixed;
import dev.atlas.tdx.AttestationException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code atlas measure --image DIR --cpus N --memory SIZE ...}: the expected MRTD, RTMR1, RTMR2 (and RTMR0 when the
 * ACPI digests are given) of a dstack image for a hardware configuration; see {@code docs/atlas-measure.md}.
 */
@Command(name = "measure", mixinStandardHelpOptions = true, subcommands = MeasureCheckCommand.class,
        description = {"Expected bootchain measurements (MRTD, RTMR0-2) of a dstack OS image directory for a hardware"
                + " configuration, computed from the image files without QEMU (dstack-mr's rules).",
            "RTMR0 needs QEMU's ACPI tables for the exact topology: it is computed only with --acpi-digests; otherwise"
                + " it is reported as not computed (use 'atlas measure check' on a GetQuote response, the lite check).",
            "Exit codes: 0 computed, 1 the image or configuration cannot be measured (malformed or unsupported), 2 usage,"
                + " an invalid option value or an unreadable input."})
final class MeasureCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--image", paramLabel = "DIR", description = "image directory with metadata.json, bios, kernel,"
            + " initrd (optional sha256sum.txt, digest.txt)")
    Path image;

    @Option(names = "--cpus", paramLabel = "N", description = "vCPU count")
    Integer cpus;

    @Option(names = "--memory", paramLabel = "SIZE", description = "guest memory, e.g. 2G, 4096M")
    String memory;

    @Option(names = "--pci-hole64", paramLabel = "SIZE", description = "64-bit PCI hole size (default: QEMU's)")
    String pciHole64;

    @Option(names = "--gpus", paramLabel = "N", defaultValue = "0", description = "GPUs (default 0)")
    int gpus;

    @Option(names = "--nvswitches", paramLabel = "N", defaultValue = "0", description = "NVSwitches (default 0)")
    int nvswitches;

    @Option(names = "--nics", paramLabel = "N", defaultValue = "1", description = "virtio-net NICs (default 1)")
    int nics;

    @Option(names = "--hotplug-off", description = "ACPI PCI hotplug off")
    boolean hotplugOff;

    @Option(names = "--qemu-version", paramLabel = "V", defaultValue = MachineConfig.DEFAULT_QEMU_VERSION,
            description = "QEMU version MAJOR.MINOR.PATCH (default ${DEFAULT-VALUE}; 8.x adds pages in two passes)")
    String qemuVersion;

    @Option(names = "--two-pass-add-pages", paramLabel = "BOOL", arity = "1",
            description = "override the page-add order the QEMU version implies")
    Boolean twoPass;

    @Option(names = "--pic", paramLabel = "BOOL", arity = "1", description = "override the PIC the QEMU version implies")
    Boolean pic;

    @Option(names = "--acpi-digests", paramLabel = "LOADER,RSDP,TABLES",
            description = "the three RTMR0 ACPI event digests (hex, from QEMU's tables for this topology or a trusted"
                    + " boot's event log); with them RTMR0 is computed")
    String acpiDigests;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Option(names = "--policy-out", paramLabel = "FILE",
            description = "write the Atlas policy block {expected_bootchain, os_image_hash (from digest.txt)} to merge"
                    + " into a policy; needs RTMR0 (--acpi-digests)")
    Path policyOut;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            if (image == null || cpus == null || memory == null) {
                throw CliErrors.usage("atlas measure needs --image DIR, --cpus N and --memory SIZE (or a subcommand:"
                        + " atlas measure check RESPONSE.json)");
            }
            MachineConfig.Builder b = MachineConfig.builder().cpus(cpus)
                    .memoryBytes(MachineConfig.parseSize("--memory", memory)).gpus(gpus)
                    .nvswitches(nvswitches).nics(nics).hotplugOff(hotplugOff).qemuVersion(qemuVersion)
                    .twoPassAddPages(twoPass).pic(pic);
            if (pciHole64 != null) {
                b.pciHole64(MachineConfig.parseSize("--pci-hole64", pciHole64));
            }
            MachineConfig machine = b.build();
            Optional<Rtmr0Fixed.AcpiDigests> acpi = Optional.ofNullable(acpiDigests).map(MeasureCommand::acpi);
            ImageDirectory dir = ImageDirectory.open(image);
            if (!dir.ignoredFields().isEmpty()) {
                err.println("note: metadata.json fields not used for measurement: "
                        + String.join(", ", dir.ignoredFields()));
            }
            ExpectedMeasurements m = ExpectedMeasurements.compute(dir, machine, acpi);
            Mrtd.PageAddOrder order = Mrtd.order(machine);
            if (json) {
                ObjectNode o = m.toJsonNode();
                o.put("page_add_order", order == Mrtd.PageAddOrder.TWO_PASS ? "two_pass" : "single_pass");
                o.put("qemu_version", machine.qemuVersion());
                dir.digest().ifPresent(d -> o.put("os_image_hash", d));
                out.println(o.toPrettyString());
            } else {
                out.println("MRTD:  " + m.mrtd());
                out.println("RTMR0: " + m.rtmr0().orElse(m.rtmr0Note()));
                out.println("RTMR1: " + m.rtmr1());
                out.println("RTMR2: " + m.rtmr2());
                out.println("(QEMU " + machine.qemuVersion() + ": pages added in "
                        + (order == Mrtd.PageAddOrder.TWO_PASS ? "two passes" : "a single pass") + ", memory "
                        + machine.memoryBytes() + " bytes" + dir.digest().map(d -> ", os_image_hash " + d).orElse("")
                        + ")");
            }
            out.flush();
            if (policyOut != null) {
                ObjectNode block = m.toPolicyBlock(dir.digest());
                String text = block.toPrettyString() + "\n";
                ObjectNode probe = block.deepCopy(); // the block merged into a minimal policy must be one Atlas reads
                probe.put("type", "dstack_tdx");
                probe.put("expected_compose_hash", "00".repeat(32));
                PolicyJson.parse(probe.toString());
                try {
                    Files.writeString(policyOut, text, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw CliErrors.unwritable(policyOut, "--policy-out", e);
                }
                err.println("wrote the expected_bootchain policy block to " + policyOut);
            }
            return CliErrors.OK;
        } catch (MeasureException e) {
            err.println("error: " + e.detail());
            err.flush();
            return e.measureReason() == MeasureException.Reason.FILE_UNREADABLE
                    || e.measureReason() == MeasureException.Reason.CONFIG_INVALID ? CliErrors.USAGE
                    : CliErrors.exitCode(e);
        } catch (AttestationException e) {
            err.println("error: the policy written would not be valid: " + e.getMessage());
            return CliErrors.REJECTED;
        } catch (CliErrors.CliException e) {
            return CliErrors.report(e, false, out, err);
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return CliErrors.USAGE;
        }
    }

    private static Rtmr0Fixed.AcpiDigests acpi(String text) {
        String[] parts = text.split(",", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("--acpi-digests needs three comma-separated hex digests"
                    + " (loader,rsdp,tables), got " + parts.length);
        }
        byte[][] d = new byte[3][];
        for (int i = 0; i < 3; i++) {
            String p = parts[i].trim();
            if (p.length() != 96 || !p.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IllegalArgumentException("--acpi-digests: digest " + (i + 1) + " must be 96 hex characters"
                        + " (48 bytes), got " + p.length() + " characters");
            }
            d[i] = HexFormat.of().parseHex(p);
        }
        return new Rtmr0Fixed.AcpiDigests(d[0], d[1], d[2]);
    }
}
