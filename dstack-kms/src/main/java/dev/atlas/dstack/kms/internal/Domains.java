package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.RaException;
import java.nio.charset.StandardCharsets;

/**
 * The RPC domain a KMS is bootstrapped or onboarded with ({@code Onboard.Bootstrap}, {@code Onboard.Onboard},
 * {@code core.onboard.auto_bootstrap_domain}): a DNS name that becomes the RPC certificate's CN and SAN
 * ({@code ../shared/specs/dstack-platform.md} §2.3). The rules and the two error texts are dstack's
 * ({@code kms/src/onboard_service.rs}, {@code validate_onboarding_domain}).
 */
public final class Domains {
    /** The longest domain accepted, in bytes. */
    public static final int MAX_DOMAIN_BYTES = 253;
    /** The longest label accepted, in bytes. */
    public static final int MAX_LABEL_BYTES = 63;
    /** dstack's text for an empty, over-long or non-ASCII domain. */
    public static final String BAD_DOMAIN = "domain must be a non-empty ASCII DNS name of at most 253 bytes";
    /** dstack's text for a domain with a bad label. */
    public static final String BAD_LABEL = "domain contains an invalid DNS label";

    private Domains() {
    }

    /**
     * Accepts a non-empty ASCII name of at most 253 bytes whose dot-separated labels are each 1–63 bytes of
     * {@code [A-Za-z0-9-]}, not starting or ending with {@code -}. A trailing dot is an empty label, refused as
     * dstack does.
     *
     * @throws RaException {@code CONFIG_INVALID} whose {@code detail()} is dstack's text (it names the domain; sent to the caller verbatim)
     */
    public static void validate(String domain) throws RaException {
        if (domain == null || domain.isEmpty() || !isAscii(domain)
                || domain.getBytes(StandardCharsets.US_ASCII).length > MAX_DOMAIN_BYTES) {
            throw new RaException(RaException.Reason.CONFIG_INVALID, BAD_DOMAIN);
        }
        int start = 0;
        while (true) {
            int dot = domain.indexOf('.', start);
            int end = dot < 0 ? domain.length() : dot;
            if (!validLabel(domain, start, end)) {
                throw new RaException(RaException.Reason.CONFIG_INVALID, BAD_LABEL);
            }
            if (dot < 0) {
                return;
            }
            start = dot + 1;
        }
    }

    /** {@link #validate} as a predicate. */
    public static boolean isValid(String domain) {
        try {
            validate(domain);
            return true;
        } catch (RaException e) {
            return false;
        }
    }

    private static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) > 0x7f) {
                return false;
            }
        }
        return true;
    }

    private static boolean validLabel(String s, int start, int end) {
        int len = end - start;
        if (len < 1 || len > MAX_LABEL_BYTES || s.charAt(start) == '-' || s.charAt(end - 1) == '-') {
            return false;
        }
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
