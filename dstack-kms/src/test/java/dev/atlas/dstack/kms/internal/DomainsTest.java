package dev.atlas.dstack.kms.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.atlas.dstack.ra.RaException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** §2.3 domain rules with dstack's two texts (upstream {@code kms/src/onboard_service.rs} and its tests). */
class DomainsTest {
    static final String LABEL63 = "a".repeat(63);
    static final String MAX253 = String.join(".", LABEL63, LABEL63, LABEL63, "a".repeat(61));

    @ParameterizedTest
    @ValueSource(strings = {"kms.example.com", "localhost", "a", "A-1.b2", "xn--bcher-kva.example", "0.0.0.0",
            "KMS.EXAMPLE.COM"})
    void accepts(String domain) throws Exception {
        Domains.validate(domain);
        assertThat(Domains.isValid(domain)).isTrue();
    }

    @org.junit.jupiter.api.Test
    void acceptsExactly253Bytes() throws Exception {
        assertThat(MAX253).hasSize(253);
        Domains.validate(MAX253);
        assertThat(Domains.isValid(MAX253 + "a")).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "bücher.example", "kms.example.com\u00a0"})
    void refusesEmptyOrNonAscii(String domain) {
        assertThatThrownBy(() -> Domains.validate(domain)).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
            assertThat(e.detail()).isEqualTo("domain must be a non-empty ASCII DNS name of at most 253 bytes");
        });
    }

    @org.junit.jupiter.api.Test
    void refusesOverlong() {
        assertThatThrownBy(() -> Domains.validate("a".repeat(254))).isInstanceOfSatisfying(RaException.class,
                e -> assertThat(e.detail()).isEqualTo(Domains.BAD_DOMAIN));
        assertThatThrownBy(() -> Domains.validate(null)).isInstanceOf(RaException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"-kms.example.com", "kms-.example.com", "kms..example.com", "kms_example.com",
            ".kms.example.com", "kms.example.com.", "kms example.com", "kms.example.com:443", "kms/x", "*.example.com",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", ".", "-"})
    void refusesBadLabels(String domain) {
        assertThatThrownBy(() -> Domains.validate(domain)).isInstanceOfSatisfying(RaException.class, e -> {
            assertThat(e.raReason()).isEqualTo(RaException.Reason.CONFIG_INVALID);
            assertThat(e.detail()).isEqualTo("domain contains an invalid DNS label");
        });
    }
}
