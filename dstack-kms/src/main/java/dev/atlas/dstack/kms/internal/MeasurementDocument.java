package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * dstack's {@code TdxOsImageMeasurementDocument} ({@code dstack-types/src/lib.rs}): the image's
 * {@code sha256sum.txt} bytes and its {@code measurement.tdx.cbor} bytes, as a lite CVM carries them in
 * {@code vm_config.tdx_measurement}. The OS image identity is {@code os_image_hash = SHA-256(sha256sum.txt)}; the
 * measurement is bound to it by its {@code sha256sum.txt} entry ({@code verify_measurement_material}).
 *
 * @param checksumFile raw {@code sha256sum.txt}
 * @param measurement raw {@code measurement.tdx.cbor}
 */
public record MeasurementDocument(byte[] checksumFile, byte[] measurement) {
    /** Largest {@code sha256sum.txt} or measurement accepted (ours; real ones are under 1 KiB). */
    public static final int MAX_BYTES = 64 * 1024;
    /** {@code TDX_MEASUREMENT_FILENAME}. */
    public static final String TDX_MEASUREMENT_FILENAME = "measurement.tdx.cbor";

    public MeasurementDocument {
        checksumFile = Objects.requireNonNull(checksumFile, "checksumFile").clone();
        measurement = Objects.requireNonNull(measurement, "measurement").clone();
    }

    @Override
    public byte[] checksumFile() {
        return checksumFile.clone();
    }

    @Override
    public byte[] measurement() {
        return measurement.clone();
    }

    /**
     * {@code TdxOsImageMeasurementDocument::verify}: {@code SHA-256(sha256sum.txt) == osImageHash} and the
     * file's {@code measurement.tdx.cbor} entry equals {@code SHA-256(measurement)}.
     *
     * @throws RaException {@code OS_IMAGE_MISMATCH} for either hash, or the entry's parse reason
     */
    public void verify(byte[] osImageHash) throws RaException {
        if (checksumFile.length > MAX_BYTES || measurement.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, "vm_config.tdx_measurement",
                    "sha256sum.txt or measurement larger than " + MAX_BYTES + " bytes");
        }
        byte[] imageHash = sha256(checksumFile);
        if (!MessageDigest.isEqual(imageHash, osImageHash)) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.os_image_hash",
                    "os_image_hash mismatch: expected sha256(sha256sum.txt)=" + hex(osImageHash) + ", actual="
                            + hex(imageHash));
        }
        byte[] listed = entryHash(checksumFile, TDX_MEASUREMENT_FILENAME);
        byte[] actual = sha256(measurement);
        if (!MessageDigest.isEqual(listed, actual)) {
            throw new RaException(Reason.OS_IMAGE_MISMATCH, "vm_config.tdx_measurement.measurement",
                    TDX_MEASUREMENT_FILENAME + " hash mismatch: sha256sum.txt=" + hex(listed) + ", actual=" + hex(actual));
        }
    }

    /**
     * {@code sha256sum_entry_hash}: the 32-byte hash that {@code sha256sum.txt} lists for {@code filename}.
     * UTF-8 only; lines split on LF (a trailing CR dropped), trimmed; blank lines skipped; a line is
     * {@code <hex> <name> [anything]} separated by whitespace; other names are not checked; the name must appear
     * exactly once.
     *
     * @throws RaException {@code INVALID_UTF8}, {@code MISSING_FIELD} (a line without a name, or no entry),
     *                     {@code DUPLICATE_FIELD}, {@code WRONG_TYPE} (hash not hex), {@code BAD_LENGTH}
     */
    public static byte[] entryHash(byte[] checksumFile, String filename) throws RaException {
        String f = "sha256sum.txt";
        if (checksumFile.length > MAX_BYTES) {
            throw new RaException(Reason.TOO_LARGE, f, checksumFile.length + " bytes > " + MAX_BYTES);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(checksumFile)).toString();
        } catch (CharacterCodingException e) {
            throw new RaException(Reason.INVALID_UTF8, f, "not valid UTF-8");
        }
        byte[] found = null;
        List<String> lines = lines(text);
        for (int i = 0; i < lines.size(); i++) {
            List<String> parts = splitWhitespace(lines.get(i));
            if (parts.isEmpty()) {
                continue;
            }
            if (parts.size() < 2) {
                throw new RaException(Reason.MISSING_FIELD, f, "line " + (i + 1) + " is missing filename");
            }
            if (!parts.get(1).equals(filename)) {
                continue;
            }
            if (found != null) {
                throw new RaException(Reason.DUPLICATE_FIELD, f, "contains duplicate " + filename + " entries");
            }
            String h = parts.get(0);
            byte[] hash;
            try {
                if (h.length() % 2 != 0) {
                    throw new IllegalArgumentException("odd");
                }
                hash = HexFormat.of().parseHex(h);
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.WRONG_TYPE, f, filename + " hash is not valid hex");
            }
            if (hash.length != 32) {
                throw new RaException(Reason.BAD_LENGTH, f,
                        filename + " hash has invalid length " + hash.length + ", expected 32");
            }
            found = hash;
        }
        if (found == null) {
            throw new RaException(Reason.MISSING_FIELD, f, "sha256sum.txt is missing " + filename);
        }
        return found;
    }

    /** Rust's {@code str::lines}: split at LF, drop one CR before it, no empty last line. */
    private static List<String> lines(String s) {
        List<String> out = new ArrayList<>();
        int start = 0;
        while (start < s.length()) {
            int nl = s.indexOf('\n', start);
            int end = nl < 0 ? s.length() : nl;
            String line = s.substring(start, end);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            out.add(line);
            start = nl < 0 ? s.length() : nl + 1;
        }
        return out;
    }

    /** Rust's {@code split_whitespace} (Unicode White_Space), which also does the {@code trim}. */
    private static List<String> splitWhitespace(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            while (i < n && isRustWhitespace(s.charAt(i))) {
                i++;
            }
            int j = i;
            while (j < n && !isRustWhitespace(s.charAt(j))) {
                j++;
            }
            if (j > i) {
                out.add(s.substring(i, j));
            }
            i = j;
        }
        return out;
    }

    /** {@code char::is_whitespace}: the Unicode White_Space property (all in the BMP). */
    static boolean isRustWhitespace(char c) {
        return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
                || c == 0x3000;
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MeasurementDocument d && Arrays.equals(checksumFile, d.checksumFile)
                && Arrays.equals(measurement, d.measurement);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(checksumFile) + Arrays.hashCode(measurement);
    }

    @Override
    public String toString() {
        return "MeasurementDocument[sha256sum.txt " + checksumFile.length + " bytes, measurement " + measurement.length
                + " bytes]";
    }
}
