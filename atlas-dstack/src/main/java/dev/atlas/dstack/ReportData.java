package dev.atlas.dstack;

import dev.atlas.dstack.internal.Digests;
import dev.atlas.tdx.internal.Hex;
import java.util.Objects;

/** The 64-byte {@code report_data} an aTLS quote must carry. */
public final class ReportData {
    /** Size of the nonce and of the EKM (bytes). */
    public static final int NONCE_BYTES = 32;
    public static final int EKM_BYTES = 32;

    private ReportData() {}

    /**
     * {@code SHA-512(nonce ‖ ekm)}: binds a quote to one client challenge and one TLS session (exporter label
     * {@code EXPORTER-Channel-Binding}, no context, 32 bytes).
     *
     * @throws IllegalArgumentException if nonce or EKM is not 32 bytes
     */
    public static byte[] sessionBinding(byte[] nonce, byte[] ekm) {
        Objects.requireNonNull(nonce, "nonce");
        Objects.requireNonNull(ekm, "ekm");
        if (nonce.length != NONCE_BYTES) {
            throw new IllegalArgumentException("nonce must be exactly 32 bytes, got " + nonce.length);
        }
        if (ekm.length != EKM_BYTES) {
            throw new IllegalArgumentException("session_ekm must be exactly 32 bytes, got " + ekm.length);
        }
        return Digests.sha512(nonce, ekm);
    }

    /** Hex form of {@link #sessionBinding}. */
    public static String sessionBindingHex(byte[] nonce, byte[] ekm) {
        return Hex.encode(sessionBinding(nonce, ekm));
    }
}
