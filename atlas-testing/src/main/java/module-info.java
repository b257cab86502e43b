/** Test support for atlas-java: mock Intel PKI and DCAP evidence factory. */
module dev.atlas.testing {
    requires transitive com.fasterxml.jackson.databind;
    requires org.bouncycastle.provider;
    requires org.bouncycastle.pkix;

    exports dev.atlas.testing;
}
