package dev.atlas.measure;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An independent oracle: small Python programs (hashlib) run with /usr/bin/python3; tests using it are skipped with a
 * message when it is absent.
 */
final class PythonOracle {
    static final Path PYTHON = Path.of("/usr/bin/python3");

    private PythonOracle() {
    }

    /**
     * Authenticode SHA-384 as dstack-mr computes it, written from the PE/COFF spec's steps: headers without the
     * checksum and the certificate-table entry, sections by file offset, trailing bytes minus the certificate
     * table when one is declared, zero padding to 8.
     */
    static final String AUTHENTICODE = String.join("\n",
            "import hashlib, struct, sys",
            "d = open(sys.argv[1], 'rb').read()",
            "pe = struct.unpack_from('<I', d, 0x3c)[0]",
            "nsec, = struct.unpack_from('<H', d, pe + 6)",
            "optsz, = struct.unpack_from('<H', d, pe + 20)",
            "opt = pe + 24",
            "magic, = struct.unpack_from('<H', d, opt)",
            "dd = opt + (112 if magic == 0x20b else 96)",
            "cert = dd + 4 * 8",
            "soh, = struct.unpack_from('<I', d, opt + 60)",
            "h = hashlib.sha384()",
            "h.update(d[:opt + 64]); h.update(d[opt + 68:cert]); h.update(d[cert + 8:soh])",
            "secs = []",
            "for i in range(nsec):",
            "    size, ptr = struct.unpack_from('<II', d, opt + optsz + 40 * i + 16)",
            "    if size: secs.append((ptr, size))",
            "total = soh",
            "for ptr, size in sorted(secs, key=lambda s: s[0]):",
            "    h.update(d[ptr:ptr + size]); total += size",
            "caddr, csize = struct.unpack_from('<II', d, cert)",
            "if caddr and csize and len(d) > total and len(d) - total > csize:",
            "    h.update(d[total:len(d) - csize])",
            "if len(d) % 8: h.update(bytes(8 - len(d) % 8))",
            "print(h.hexdigest())");

    /** SHA-384 of UTF-16LE(argv[1] + ' initrd=initrd') + NUL, the argument given as UTF-8 hex. */
    static final String CMDLINE = String.join("\n",
            "import hashlib, sys",
            "s = bytes.fromhex(sys.argv[1]).decode('utf-8') + ' initrd=initrd'",
            "print(hashlib.sha384(s.encode('utf-16-le') + b'\\0\\0').hexdigest())");

    static boolean available() {
        return Files.isExecutable(PYTHON);
    }

    static void assumeAvailable() {
        assumeTrue(available(), "/usr/bin/python3 is absent: skipping the independent Python (hashlib) oracle");
    }

    static String run(String program, String... args) throws IOException, InterruptedException {
        assumeAvailable();
        List<String> cmd = new ArrayList<>(List.of(PYTHON.toString(), "-c", program));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("python oracle failed: " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8).trim();
    }
}
