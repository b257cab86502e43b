package dev.atlas.dstack.gateway.internal;

import java.util.Collection;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;

/**
 * ZT-domain names as dstack's admin service takes them ({@code admin_service.rs} {@code normalize_zt_domain},
 * {@code validate_zt_domain}) and the default base domain ({@code kv/mod.rs} {@code get_best_zt_domain}).
 */
public final class ZtDomains {
    /** dstack's words. */
    static final String BAD_NAME = "domain must be a non-empty ASCII DNS name of at most 253 bytes";
    static final String BAD_LABEL = "domain contains an invalid DNS label";

    private ZtDomains() {
    }

    /**
     * Trims, drops one trailing root dot run, a leading {@code *.}, lowercases, then checks: 1..253 ASCII bytes, labels
     * of 1..63 letters, digits or {@code -}, not starting or ending with {@code -}.
     *
     * @throws IllegalArgumentException with dstack's message
     */
    public static String normalize(String domain) {
        String d = domain.strip();
        while (d.endsWith(".")) {
            d = d.substring(0, d.length() - 1);
        }
        if (d.startsWith("*.")) {
            d = d.substring(2);
        }
        d = d.toLowerCase(Locale.ROOT);
        if (d.isEmpty() || d.length() > 253 || !d.chars().allMatch(c -> c < 0x80)) {
            throw new IllegalArgumentException(BAD_NAME);
        }
        for (String label : d.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")
                    || !label.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                throw new IllegalArgumentException(BAD_LABEL);
            }
        }
        return d;
    }

    /**
     * The default base domain: among the domains bound to no node or to {@code nodeId}, the highest priority, a
     * domain bound to no node winning a tie; then the name, for a stable answer.
     */
    public static Optional<ZtStore.Domain> best(Collection<ZtStore.Domain> domains, long nodeId) {
        return domains.stream().filter(d -> d.node().isEmpty() || d.node().get() == nodeId)
                .max(Comparator.comparingInt(ZtStore.Domain::priority)
                        .thenComparing(d -> d.node().isEmpty())
                        .thenComparing(ZtStore.Domain::domain, Comparator.reverseOrder()));
    }
}
