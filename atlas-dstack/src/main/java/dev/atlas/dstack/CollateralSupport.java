package dev.atlas.dstack;

import dev.atlas.tdx.AttestationException;
import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.CertificationData;
import dev.atlas.tdx.CollateralCache;
import dev.atlas.tdx.CollateralClient;
import dev.atlas.tdx.PckExtension;
import dev.atlas.tdx.Quote;
import dev.atlas.tdx.TeeType;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

/** Cache-key derivation from a quote's PCK certificate. */
final class CollateralSupport {
    private CollateralSupport() {}

    static CollateralCache.Key key(CollateralClient client, Quote quote) throws AttestationException {
        CertificationData cd = quote.certificationData();
        if (cd.type() != CertificationData.TYPE_PCK_CERT_CHAIN) {
            throw new AttestationException(Reason.UNSUPPORTED_CERTIFICATION_DATA, "certification data type "
                    + cd.type() + ": only quotes carrying their PCK chain (type 5) can be used to fetch collateral");
        }
        X509Certificate leaf;
        try {
            leaf = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(cd.bodyAsText().getBytes(
                            java.nio.charset.StandardCharsets.US_ASCII)));
        } catch (CertificateException | RuntimeException e) {
            throw new AttestationException(Reason.MALFORMED_QUOTE, "the quote's PCK certificate does not parse", e);
        }
        PckExtension ext = PckExtension.fromCertificate(leaf);
        TeeType tee = quote.header().teeTypeCode() == 0 ? TeeType.SGX : TeeType.TDX;
        return new CollateralCache.Key(client.baseUrl(), ext.fmspc(), CollateralClient.caType(leaf), tee);
    }
}
