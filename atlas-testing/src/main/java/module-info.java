/** Test support for atlas-java: mock Intel PKI and DCAP evidence factory. */
module dev.atlas.testing {
    requires transitive com.fasterxml.jackson.databind;
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix;
    requires static org.junit.jupiter.api; // SharedTestData (tests only)

    exports dev.atlas.testing;
}
