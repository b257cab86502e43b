package dev.atlas.cli;

import dev.atlas.dstack.DstackTdxPolicy;
import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.Collateral;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/**
 * Reading CLI inputs: quotes as raw bytes or hex text, collateral JSON, DER/PEM certificates, UTF-8 text. Every
 * failure is an {@link InputException} (exit code 2) whose message names the file (and the option when given),
 * says what is wrong and never carries a JDK class name.
 */
final class Inputs {
    /** Largest input file read (quotes and collateral are far smaller). */
    static final long MAX_FILE = 16L << 20;

    private Inputs() {}

    /** Thrown for unreadable or malformed input files (exit code 2). */
    static final class InputException extends CliErrors.CliException {
        private static final long serialVersionUID = 1L;

        InputException(String msg) {
            super(CliErrors.USAGE, "INPUT", msg, null);
        }
    }

    private static String named(Path p, String option) {
        return option == null ? p.toString() : p + " (" + option + ")";
    }

    static byte[] read(Path p) throws InputException {
        return read(p, null);
    }

    /** The bytes of {@code p}; {@code option} (may be null) is named in messages. */
    static byte[] read(Path p, String option) throws InputException {
        try {
            if (Files.isDirectory(p)) {
                throw new InputException("cannot read " + named(p, option) + ": it is a directory, not a file");
            }
            long size = Files.size(p);
            if (size > MAX_FILE) {
                throw new InputException("cannot read " + named(p, option) + ": " + size + " bytes, larger than the "
                        + MAX_FILE + "-byte limit for input files");
            }
            return Files.readAllBytes(p);
        } catch (IOException | UncheckedIOException e) {
            throw new InputException("cannot read " + named(p, option) + ": " + CliErrors.fileProblem(e));
        }
    }

    /** The text of {@code p}, which must be UTF-8. */
    static String text(Path p, String option) throws InputException {
        return utf8(read(p, option), p, option);
    }

    /** {@code bytes} decoded as strict UTF-8 (malformed bytes are an error naming the offset). */
    static String utf8(byte[] bytes, Path p, String option) throws InputException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            int at = firstInvalidUtf8(bytes);
            throw new InputException(named(p, option) + " is not UTF-8 text (invalid byte at offset " + at
                    + "; a binary file?)");
        }
    }

    private static int firstInvalidUtf8(byte[] b) {
        ByteBuffer in = ByteBuffer.wrap(b);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(b.length + 1);
        java.nio.charset.CoderResult r = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(in, out, true);
        return r.isError() ? in.position() : b.length;
    }

    /**
     * A quote file: raw bytes, or hex text (optional {@code 0x}, surrounding whitespace) when every byte is a
     * hex digit or whitespace.
     */
    static byte[] quote(Path p) throws InputException {
        byte[] raw = read(p);
        if (raw.length == 0) {
            throw new InputException(p + " is empty: expected a quote (raw bytes or hex text)");
        }
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
        byte[] b = read(p);
        try {
            return Collateral.fromJson(b);
        } catch (AttestationException e) {
            throw new InputException(p + " is not a valid QuoteCollateralV3 JSON file: " + CliErrors.scrub(e.detail()));
        }
    }

    /** A policy file; {@code option} is the option that named it. */
    static DstackTdxPolicy policy(Path p, String option) throws InputException {
        String text = text(p, option);
        try {
            return dev.atlas.dstack.PolicyJson.parse(text);
        } catch (AttestationException e) {
            throw new InputException(named(p, option) + " is not a valid policy: " + CliErrors.scrub(e.detail())
                    + " (`atlas policy check " + p + "` explains)");
        }
    }

    /** A GetQuote or /tdx_quote response file. */
    static dev.atlas.dstack.QuoteResponse quoteResponse(Path p) throws InputException {
        String text = text(p, null);
        try {
            return dev.atlas.dstack.QuoteResponse.parse(text);
        } catch (AttestationException e) {
            throw new InputException(p + " is not a valid GetQuote or /tdx_quote response: "
                    + CliErrors.scrub(e.detail()));
        }
    }

    static X509Certificate certificate(Path p) throws InputException {
        return certificate(p, null);
    }

    /** A DER or PEM X.509 certificate. */
    static X509Certificate certificate(Path p, String option) throws InputException {
        byte[] b = read(p, option);
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new java.io.ByteArrayInputStream(b));
        } catch (CertificateException | RuntimeException e) {
            throw new InputException(named(p, option) + " is not a PEM or DER X.509 certificate ("
                    + b.length + " bytes that do not parse as one)");
        }
    }
}
