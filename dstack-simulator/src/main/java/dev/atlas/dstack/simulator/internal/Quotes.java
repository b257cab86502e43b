package dev.atlas.dstack.simulator.internal;

import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.KeccakDigest;
import org.bouncycastle.crypto.digests.SHA3Digest;

/**
 * dstack's {@code QuoteContentType::to_report_data_with_hash} ({@code dstack-attest/src/attestation.rs}):
 * {@code H(tag ":" content)} padded with zeros to 64 bytes, or the content itself for {@code raw}.
 */
public final class Quotes {
    private Quotes() {
    }

    /** The RA-TLS binding: {@code SHA-512("ratls-cert:" || spki)}. */
    public static byte[] ratlsReportData(byte[] spki) throws RaException {
        return reportData("ratls-cert", spki, "sha512");
    }

    /**
     * {@code to_report_data_with_hash(content, hash)} for tag {@code tag}: hash names are those of dstack
     * ({@code sha256}, {@code sha384}, {@code sha512}, {@code sha3-256}, {@code sha3-384}, {@code sha3-512},
     * {@code keccak256}, {@code keccak384}, {@code keccak512}, case-sensitive; empty means {@code sha512}; {@code raw}
     * takes exactly 64 bytes of content, unhashed). Errors carry upstream's texts.
     */
    public static byte[] reportData(String tag, byte[] content, String hash) throws RaException {
        String h = hash.isEmpty() ? "sha512" : hash;
        if (h.equals("raw")) {
            if (content.length != 64) {
                throw new RaException(RaException.Reason.INVALID_ARGUMENT, "report_data", "invalid content length");
            }
            return content.clone();
        }
        byte[] input = concat((tag + ":").getBytes(StandardCharsets.UTF_8), content);
        byte[] out = switch (h) {
            case "sha256" -> jdk("SHA-256", input);
            case "sha384" -> jdk("SHA-384", input);
            case "sha512" -> jdk("SHA-512", input);
            case "sha3-256" -> bc(new SHA3Digest(256), input);
            case "sha3-384" -> bc(new SHA3Digest(384), input);
            case "sha3-512" -> bc(new SHA3Digest(512), input);
            case "keccak256" -> bc(new KeccakDigest(256), input);
            case "keccak384" -> bc(new KeccakDigest(384), input);
            case "keccak512" -> bc(new KeccakDigest(512), input);
            default -> throw new RaException(RaException.Reason.INVALID_ARGUMENT, "hash_algorithm",
                    "invalid hash algorithm");
        };
        return Arrays.copyOf(out, 64);
    }

    private static byte[] jdk(String alg, byte[] in) {
        try {
            return MessageDigest.getInstance(alg).digest(in);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] bc(Digest d, byte[] in) {
        d.update(in, 0, in.length);
        byte[] out = new byte[d.getDigestSize()];
        d.doFinal(out, 0);
        return out;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** At most 64 printable ASCII characters of a caller-supplied name, for messages. */
    public static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 64; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }
}
