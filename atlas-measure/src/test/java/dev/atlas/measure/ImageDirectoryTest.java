package dev.atlas.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** metadata.json, sha256sum.txt and digest.txt. */
class ImageDirectoryTest {
    @TempDir
    Path tmp;

    private static final String GOOD = "{\"bios\":\"ovmf.fd\",\"kernel\":\"bzImage\",\"initrd\":\"initramfs.cpio.gz\","
            + "\"cmdline\":\"console=ttyS0 dstack.rootfs_hash=00\",\"version\":\"0.6.0\",\"is_dev\":true,"
            + "\"ovmf_variant\":\"pre202505\",\"bios-sev\":\"ovmf-sev.fd\",\"git_revision\":\"abc\",\"rootfs\":{}}";

    private ImageDirectory parse(String json) throws MeasureException {
        return ImageDirectory.parseMetadata(tmp, json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void parsesEveryField() throws Exception {
        ImageDirectory d = parse(GOOD);
        assertEquals(tmp.resolve("ovmf.fd"), d.bios());
        assertEquals(tmp.resolve("bzImage"), d.kernel());
        assertEquals(tmp.resolve("initramfs.cpio.gz"), d.initrd());
        assertEquals("console=ttyS0 dstack.rootfs_hash=00", d.cmdline());
        assertEquals("0.6.0", d.version());
        assertTrue(d.dev());
        assertEquals(Optional.of("pre202505"), d.ovmfVariant());
        assertEquals(List.of("git_revision", "rootfs"), d.ignoredFields());
        ImageDirectory min = parse("{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c/d\",\"cmdline\":\"x\"}");
        assertEquals("", min.version());
        assertFalse(min.dev());
        assertEquals(Optional.empty(), min.ovmfVariant());
        assertEquals(tmp.resolve("c/d"), min.initrd());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[]| metadata.json",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\"}| metadata.json.cmdline",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\" \"}| metadata.json.cmdline",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":5}| metadata.json.cmdline",
        "{\"bios\":\"a\",\"kernel\":7,\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.kernel",
        "{\"bios\":\"a\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.kernel",
        "{\"bios\":\"/etc/passwd\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.bios",
        "{\"bios\":\"../a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.bios",
        "{\"bios\":\"a/./b\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.bios",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\\\\d\",\"cmdline\":\"x\"}| metadata.json.initrd",
        "{\"bios\":\"\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json.bios",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"version\":\"0.5\"}| metadata.json.version",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"version\":\"0.5.1.\"}| metadata.json.version",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"version\":5}| metadata.json.version",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"is_dev\":\"no\"}| metadata.json.is_dev",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"ovmf_variant\":1}| metadata.json.ovmf_variant",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\",\"bios-sev\":[]}| metadata.json.bios-sev",
        "{\"bios\":\"a\",\"bios\":\"b\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"}| metadata.json",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"} {}| metadata.json",
        "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"x\"| metadata.json",
    })
    void malformedMetadataNamesTheField(String json, String structure) {
        MeasureException e = assertThrows(MeasureException.class, () -> parse(json));
        assertEquals(MeasureException.Reason.METADATA_INVALID, e.measureReason(), e.getMessage());
        assertEquals(structure, e.structure().orElse(null), e.getMessage());
    }

    @Test
    void otherOvmfVariantIsUnsupported() {
        MeasureException e = assertThrows(MeasureException.class, () -> parse(GOOD.replace("pre202505", "v2")));
        assertEquals(MeasureException.Reason.CONFIG_UNSUPPORTED, e.measureReason());
    }

    @Test
    void sizeLimits() {
        String big = "{\"bios\":\"a\",\"kernel\":\"b\",\"initrd\":\"c\",\"cmdline\":\"" + "x".repeat(4097) + "\"}";
        assertEquals("metadata.json.cmdline", assertThrows(MeasureException.class, () -> parse(big)).structure()
                .orElseThrow());
        byte[] huge = new byte[ImageDirectory.MAX_METADATA + 1];
        MeasureException e = assertThrows(MeasureException.class, () -> ImageDirectory.parseMetadata(tmp, huge));
        assertEquals(MeasureException.Reason.FILE_TOO_LARGE, e.measureReason());
    }

    @Test
    void digestMustBeTheHashOfTheChecksumFile() throws Exception {
        Files.writeString(tmp.resolve("metadata.json"), GOOD);
        byte[] sums = ("0".repeat(64) + "  metadata.json\n" + "1".repeat(64) + "  bzImage\n")
                .getBytes(StandardCharsets.US_ASCII);
        Files.write(tmp.resolve("sha256sum.txt"), sums);
        String digest = HexFormat.of().formatHex(TestImages.sha256(sums));
        Files.writeString(tmp.resolve("digest.txt"), digest + "\n");
        ImageDirectory d = ImageDirectory.open(tmp);
        assertEquals(Optional.of(digest), d.digest());
        assertEquals("1".repeat(64), d.checksums().get("bzImage"));
        Files.writeString(tmp.resolve("digest.txt"), digest.replace(digest.charAt(0), digest.charAt(0) == 'a' ? 'b'
                : 'a'));
        MeasureException e = assertThrows(MeasureException.class, () -> ImageDirectory.open(tmp));
        assertEquals(MeasureException.Reason.IMAGE_DIGEST_MISMATCH, e.measureReason());
        assertEquals(dev.atlas.tdx.AttestationException.Reason.OS_IMAGE_HASH_MISMATCH, e.reason());
        Files.writeString(tmp.resolve("digest.txt"), "nothex");
        assertEquals(MeasureException.Reason.METADATA_INVALID,
                assertThrows(MeasureException.class, () -> ImageDirectory.open(tmp)).measureReason());
        Files.writeString(tmp.resolve("digest.txt"), digest);
        Files.writeString(tmp.resolve("sha256sum.txt"), "zz  bzImage\n");
        assertEquals("sha256sum.txt:1", assertThrows(MeasureException.class, () -> ImageDirectory.open(tmp))
                .structure().orElseThrow());
    }

    @Test
    void missingDirectoryOrMetadata() throws Exception {
        assertEquals(MeasureException.Reason.FILE_UNREADABLE, assertThrows(MeasureException.class,
                () -> ImageDirectory.open(tmp.resolve("nope"))).measureReason());
        assertEquals(MeasureException.Reason.FILE_UNREADABLE, assertThrows(MeasureException.class,
                () -> ImageDirectory.open(tmp)).measureReason());
    }
}
