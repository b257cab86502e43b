package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** dstack-mr's defaults and rules for the machine configuration. */
class MachineConfigTest {
    private static MachineConfig.Builder base() {
        return MachineConfig.builder().cpus(2).memoryBytes(2L << 30);
    }

    @Test
    void defaultsAreDstackMrs() throws Exception {
        MachineConfig m = base().build();
        assertEquals("9.1.0", m.qemuVersion());
        assertEquals(1, m.nics());
        assertEquals(0, m.gpus());
        assertEquals(0, m.nvswitches());
        assertEquals(0, m.verityVolumes());
        assertEquals(0, m.pciHole64());
        assertTrue(m.rootVerity());
        assertFalse(m.hotplugOff());
        assertFalse(m.smm());
        assertFalse(m.hugepages());
        assertEquals("", m.hostShareMode());
        assertEquals("pre202505", m.ovmfVariant());
        assertFalse(m.twoPassAddPages());
        assertFalse(m.pic());
        assertEquals(Optional.empty(), m.twoPassAddPagesOverride());
    }

    @ParameterizedTest
    @CsvSource({"8.0.0, true", "8.2.2, true", "8.99.99, true", "9.0.0, false", "9.1.0, false", "10.2.1, false"})
    void picAndTwoPassFollowTheVersion(String version, boolean on) throws Exception {
        MachineConfig m = base().qemuVersion(version).build();
        assertEquals(on, m.pic());
        assertEquals(on, m.twoPassAddPages());
        MachineConfig o = base().qemuVersion(version).pic(!on).twoPassAddPages(!on).build();
        assertEquals(!on, o.pic());
        assertEquals(!on, o.twoPassAddPages());
    }

    @Test
    void toBuilderKeepsOverridesAndRederivesDefaults() throws Exception {
        MachineConfig m = base().qemuVersion("8.2.2").build();
        assertTrue(m.twoPassAddPages());
        MachineConfig n = m.toBuilder().qemuVersion("9.1.0").build();
        assertFalse(n.twoPassAddPages(), "defaults re-derived from the new version");
        MachineConfig forced = base().twoPassAddPages(true).build().toBuilder().qemuVersion("9.2.0").build();
        assertTrue(forced.twoPassAddPages(), "an explicit choice stays");
        assertEquals(m, m.toBuilder().build());
    }

    @ParameterizedTest
    @CsvSource({"7.2.0", "0.0.0", "7.99.99"})
    void qemuBeforeEightIsUnsupported(String v) {
        MeasureException e = assertThrows(MeasureException.class, () -> base().qemuVersion(v).build());
        assertEquals(MeasureException.Reason.CONFIG_UNSUPPORTED, e.measureReason());
        assertTrue(e.getMessage().contains(v), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"9.1", "9.1.0.1", "9.a.0", "'9..0'", "' 9.1.0'", "v9.1.0", "''", "9.1.-1"})
    void malformedVersionsAreInvalid(String v) {
        MeasureException e = assertThrows(MeasureException.class, () -> base().qemuVersion(v).build());
        assertEquals(MeasureException.Reason.CONFIG_INVALID, e.measureReason());
    }

    @Test
    void unsupportedCombinationsAreRejectedWithAReason() {
        MeasureException sev = assertThrows(MeasureException.class, () -> base().sev(true).build());
        assertEquals(MeasureException.Reason.CONFIG_UNSUPPORTED, sev.measureReason());
        assertTrue(sev.getMessage().contains("SEV"));
        MeasureException tpm = assertThrows(MeasureException.class, () -> base().swtpm(true).build());
        assertEquals(MeasureException.Reason.CONFIG_UNSUPPORTED, tpm.measureReason());
        assertTrue(tpm.getMessage().contains("swtpm"));
        MeasureException ovmf = assertThrows(MeasureException.class, () -> base().ovmfVariant("post202505").build());
        assertEquals(MeasureException.Reason.CONFIG_UNSUPPORTED, ovmf.measureReason());
        assertTrue(ovmf.getMessage().contains("post202505"));
        assertEquals(dev.atlas.tdx.AttestationException.Reason.INVALID_CONFIGURATION, ovmf.reason());
    }

    @Test
    void rangesAreChecked() {
        for (MachineConfig.Builder b : new MachineConfig.Builder[] {base().cpus(0), base().cpus(4097),
            base().memoryBytes(0), base().memoryBytes(4095), base().memoryBytes(-4096), base().gpus(-1),
            base().nvswitches(257), base().nics(-1), base().pciHole64(-1), base().hostShareMode("nfs"),
            base().qemuVersion(null)}) {
            MeasureException e = assertThrows(MeasureException.class, b::build);
            assertEquals(MeasureException.Reason.CONFIG_INVALID, e.measureReason(), e.getMessage());
        }
        assertThrows(MeasureException.class, () -> MachineConfig.builder().memoryBytes(1L << 31).build(),
                "cpus must be set");
    }

    @ParameterizedTest
    @CsvSource({"2G, 2147483648", "2048M, 2147483648", "512K, 524288", "1T, 1099511627776", "4096, 4096",
        "2GiB, 2147483648", "2gb, 2147483648", "' 3G ', 3221225472", "0x10, 16", "0x8000000000, 549755813888"})
    void sizes(String text, long bytes) throws Exception {
        assertEquals(bytes, MachineConfig.parseSize("--memory", text));
    }

    @ParameterizedTest
    @CsvSource({"''", "G", "2X", "-1G", "1.5G", "99999999999T", "99999999999999999999", "0x", "0xg1", "0x1000000000000000"})
    void badSizes(String text) {
        MeasureException e = assertThrows(MeasureException.class, () -> MachineConfig.parseSize("--memory", text));
        assertEquals(MeasureException.Reason.CONFIG_INVALID, e.measureReason());
        assertTrue(e.getMessage().contains("--memory"), e.getMessage());
    }
}
