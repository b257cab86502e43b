package dev.atlas.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DcapEvidenceTest {
    @Test
    void sameSeed_givesByteIdenticalEvidence() {
        DcapEvidence a = DcapEvidence.tdx().seed(7).build();
        DcapEvidence b = DcapEvidence.tdx().seed(7).build();
        assertThat(a.quote()).isEqualTo(b.quote());
        assertThat(a.collateralJson()).isEqualTo(b.collateralJson());
    }

    @Test
    void otherSeed_givesOtherKeys() {
        assertThat(DcapEvidence.tdx().seed(1).build().rootCertificate())
                .isNotEqualTo(DcapEvidence.tdx().seed(2).build().rootCertificate());
    }

    @Test
    void oneOptionChangesOnlyItsField() {
        byte[] base = DcapEvidence.tdx().build().quote();
        byte[] changed = DcapEvidence.tdx().mrTd("22".repeat(48)).build().quote();
        // Header (48) and TD report up to MRTD (136) are identical; MRTD differs.
        for (int i = 0; i < 48 + 136; i++) {
            assertThat(changed[i]).as("byte %d", i).isEqualTo(base[i]);
        }
        assertThat(changed[48 + 136]).isEqualTo((byte) 0x22);
    }
}
