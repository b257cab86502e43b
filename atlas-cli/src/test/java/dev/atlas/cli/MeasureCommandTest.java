package dev.atlas.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.measure.ExpectedMeasurements;
import dev.atlas.measure.ImageDirectory;
import dev.atlas.measure.MachineConfig;
import dev.atlas.measure.Rtmr0Fixed;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code atlas measure} on a small synthetic image directory (TDVF firmware, EFI-stub kernel, initrd). */
class MeasureCommandTest {
    @TempDir
    static Path tmp;
    static Path image;

    @BeforeAll
    static void image() throws Exception {
        image = Files.createDirectories(tmp.resolve("dstack-test"));
        Files.write(image.resolve("ovmf.fd"), firmware());
        Files.write(image.resolve("bzImage"), kernel());
        Files.write(image.resolve("initramfs.cpio.gz"), new byte[3000]);
        Files.writeString(image.resolve("metadata.json"), "{\"bios\":\"ovmf.fd\",\"kernel\":\"bzImage\","
                + "\"initrd\":\"initramfs.cpio.gz\",\"cmdline\":\"console=ttyS0\",\"version\":\"0.6.0\"}");
        byte[] sums = "0000000000000000000000000000000000000000000000000000000000000000  other\n"
                .getBytes(StandardCharsets.US_ASCII);
        Files.write(image.resolve("sha256sum.txt"), sums);
        Files.writeString(image.resolve("digest.txt"),
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(sums)) + "\n");
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** 32 KiB: descriptor at 0x100 (BFV 1 page MR_EXTEND, TD_HOB, TEMP_MEM), GUID table at the end. */
    static byte[] firmware() {
        byte[] f = new byte[0x8000];
        new Random(1).nextBytes(f);
        ByteBuffer b = le(f);
        b.put(0x100, (byte) 'T').put(0x101, (byte) 'D').put(0x102, (byte) 'V').put(0x103, (byte) 'F');
        b.putInt(0x104, 16 + 32 * 3).putInt(0x108, 1).putInt(0x10c, 3);
        long[][] secs = {{0x1000, 0x1000, 0xFFFFF000L, 0x1000, 0, 1}, {0, 0, 0x809000, 0x2000, 2, 0},
            {0, 0, 0x80B000, 0x4000, 3, 0}};
        for (int i = 0; i < 3; i++) {
            int at = 0x110 + 32 * i;
            b.putInt(at, (int) secs[i][0]).putInt(at + 4, (int) secs[i][1]).putLong(at + 8, secs[i][2])
                    .putLong(at + 16, secs[i][3]).putInt(at + 24, (int) secs[i][4]).putInt(at + 28, (int) secs[i][5]);
        }
        int end = f.length - 32;
        guid(f, end - 16, "96b582de1fb245f7baeaa366c55a082d");
        b.putShort(end - 18, (short) (18 + 22));
        guid(f, end - 18 - 16, "e47a6535984a4798865e4685a7bf8ec2");
        b.putShort(end - 18 - 18, (short) 22);
        b.putInt(end - 18 - 22, f.length - 0x100);
        return f;
    }

    private static void guid(byte[] f, int at, String hex) {
        byte[] g = HexFormat.of().parseHex(hex);
        int[] order = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        for (int i = 0; i < 16; i++) {
            f[at + i] = g[order[i]];
        }
    }

    /** PE32+ at 0x40 (6 directories), SizeOfHeaders 0x200, one section 0x200+0x1e00, Linux setup header 2.15. */
    static byte[] kernel() {
        byte[] k = new byte[0x2000];
        new Random(2).nextBytes(k);
        ByteBuffer b = le(k);
        b.put(0, (byte) 'M').put(1, (byte) 'Z').putInt(0x3c, 0x40).putInt(0x40, 0x4550);
        b.putShort(0x46, (short) 1).putShort(0x54, (short) (112 + 48)).putShort(0x58, (short) 0x20b);
        b.putInt(0x58 + 60, 0x200).putInt(0x58 + 108, 6).putLong(0x58 + 112 + 32, 0);
        int sec = 0x58 + 160;
        b.putInt(sec + 16, 0x1e00).putInt(sec + 20, 0x200);
        b.putInt(0x202, 0x53726448).putShort(0x206, (short) 0x20f).put(0x211, (byte) 1).putShort(0x236, (short) 0x40);
        return k;
    }

    @Test
    void printsRegistersAndSaysRtmr0IsNotComputed() throws Exception {
        CliRun r = CliRun.of("measure", "--image", image.toString(), "--cpus", "2", "--memory", "2G",
                "--qemu-version", "8.2.2");
        assertEquals(0, r.code(), r.err());
        ExpectedMeasurements e = ExpectedMeasurements.compute(ImageDirectory.open(image),
                MachineConfig.builder().cpus(2).memory("2G").qemuVersion("8.2.2").build());
        assertTrue(r.out().contains("MRTD:  " + e.mrtd()), r.out());
        assertTrue(r.out().contains("RTMR0: not computed: needs QEMU's ACPI tables; use the lite check"), r.out());
        assertTrue(r.out().contains("RTMR1: " + e.rtmr1()), r.out());
        assertTrue(r.out().contains("RTMR2: " + e.rtmr2()), r.out());
        assertTrue(r.out().contains("two passes"), r.out());
    }

    @Test
    void jsonAndPolicyBlockWithAcpiDigests() throws Exception {
        String d = "11".repeat(48) + "," + "22".repeat(48) + "," + "33".repeat(48);
        Path out = tmp.resolve("bootchain.json");
        CliRun r = CliRun.of("measure", "--image", image.toString(), "--cpus", "4", "--memory", "4096M",
                "--gpus", "1", "--hotplug-off", "--pci-hole64", "1T", "--acpi-digests", d, "--json",
                "--policy-out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("single_pass", j.get("page_add_order").textValue());
        MachineConfig m = MachineConfig.builder().cpus(4).memory("4G").build();
        byte[] h = HexFormat.of().parseHex("11".repeat(48));
        ExpectedMeasurements e = ExpectedMeasurements.compute(ImageDirectory.open(image), m, Optional.of(
                new Rtmr0Fixed.AcpiDigests(h, HexFormat.of().parseHex("22".repeat(48)),
                        HexFormat.of().parseHex("33".repeat(48)))));
        assertEquals(e.rtmr0().orElseThrow(), j.get("rtmr0").textValue());
        assertEquals(e.mrtd(), j.get("mrtd").textValue());
        JsonNode block = new ObjectMapper().readTree(Files.readString(out));
        assertEquals(e.rtmr0().get(), block.get("expected_bootchain").get("rtmr0").textValue());
        assertEquals(e.rtmr2(), block.get("expected_bootchain").get("rtmr2").textValue());
        assertEquals(j.get("os_image_hash").textValue(), block.get("os_image_hash").textValue());
    }

    @Test
    void refusals() {
        CliRun noArgs = CliRun.of("measure");
        assertEquals(2, noArgs.code());
        assertTrue(noArgs.err().contains("--image"), noArgs.err());
        CliRun old = CliRun.of("measure", "--image", image.toString(), "--cpus", "2", "--memory", "2G",
                "--qemu-version", "7.2.0");
        assertEquals(1, old.code());
        assertTrue(old.err().contains("CONFIG_UNSUPPORTED") && old.err().contains("7.2.0"), old.err());
        CliRun policy = CliRun.of("measure", "--image", image.toString(), "--cpus", "2", "--memory", "2G",
                "--policy-out", tmp.resolve("p.json").toString());
        assertEquals(1, policy.code());
        assertTrue(policy.err().contains("RTMR0_UNAVAILABLE"), policy.err());
        assertTrue(!Files.exists(tmp.resolve("p.json")));
        CliRun missing = CliRun.of("measure", "--image", tmp.resolve("none").toString(), "--cpus", "2", "--memory",
                "2G");
        assertEquals(2, missing.code());
        CliRun badSize = CliRun.of("measure", "--image", image.toString(), "--cpus", "2", "--memory", "lots");
        assertEquals(2, badSize.code());
        assertTrue(badSize.err().contains("--memory"), badSize.err());
        CliRun badAcpi = CliRun.of("measure", "--image", image.toString(), "--cpus", "2", "--memory", "2G",
                "--acpi-digests", "00");
        assertEquals(2, badAcpi.code());
        assertTrue(badAcpi.err().contains("--acpi-digests"), badAcpi.err());
    }

    @Test
    void checkSubcommandIsStillRegistered() {
        CliRun r = CliRun.of("measure", "check", "--help");
        assertEquals(0, r.code(), r.err());
    }
}
