package dev.atlas.cli;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** Reading CLI inputs: quotes as raw bytes or hex text, collateral JSON, DER/PEM certificates. */
final class Inputs {
    /** Largest input file read (quotes and collateral are far smaller). */
    static final long MAX_FILE = 16L << 20;

    private Inputs() {}

    /** Thrown for unreadable or malformed input files (exit code 2). */
    static final class InputException extends Exception {
        private static final long serialVersionUID = 1L;

        InputException(String msg) {
            super(msg);
        }
    }

    static byte[] read(Path p) throws InputException {
        try {
            if (Files.size(p) > MAX_FILE) {
                throw new InputException(p + ": larger than " + MAX_FILE + " bytes");
            }
            return Files.readAllBytes(p);
        } catch (IOException | UncheckedIOException e) {
            throw new InputException("cannot read " + p + ": " + e.getMessage());
        }
    }

    /**
     * A quote file: raw bytes, or hex text (optional {@code 0x}, surrounding whitespace) when every byte is a
     * hex digit or whitespace.
     */
    static byte[] quote(Path p) throws InputException {
        byte[] raw = read(p);
        String s = new String(raw, StandardCharsets.ISO_8859_1).strip();
        if (s.startsWith("0x") || s.startsWith("0X")) {
            s = s.substring(2);
        }
        if (!s.isEmpty() && s.length() % 2 == 0 && s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            return HexFormat.of().parseHex(s);
        }
        return raw;
    }

    static Collateral collateral(Path p) throws InputException {
        try {
            return Collateral.fromJson(read(p));
        } catch (AttestationException e) {
            throw new InputException(p + ": " + e.getMessage());
        }
    }

    /** A GetQuote or /tdx_quote response file. */
    static dev.atlas.dstack.QuoteResponse quoteResponse(Path p) throws InputException {
        try {
            return dev.atlas.dstack.QuoteResponse.parse(new String(read(p), StandardCharsets.UTF_8));
        } catch (AttestationException e) {
            throw new InputException(p + ": " + e.getMessage());
        }
    }

    static X509Certificate certificate(Path p) throws InputException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new java.io.ByteArrayInputStream(read(p)));
        } catch (CertificateException e) {
            throw new InputException(p + ": not a DER or PEM certificate: " + e.getMessage());
        }
    }
}
