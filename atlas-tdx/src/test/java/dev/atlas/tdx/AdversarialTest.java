package dev.atlas.tdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atlas.testing.DcapEvidence;
import dev.atlas.testing.MockIntelPki;
import dev.atlas.testing.MockIntelPki.CrlRole;
import dev.atlas.testing.MockIntelPki.Role;
import dev.atlas.tdx.AttestationException.Reason;
import java.time.Instant;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * One test per rejection path of the verification algorithm (spec §3): each builds valid evidence with
 * atlas-testing, changes exactly one thing, and asserts the reason.
 */
class AdversarialTest {
    static final Instant T = Instant.parse("2025-06-15T00:00:00Z");

    static QuoteVerifier verifierFor(DcapEvidence ev) {
        return QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).build();
    }

    static VerifiedReport verify(DcapEvidence ev) throws AttestationException {
        return verifierFor(ev).verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), ev.verificationTime());
    }

    static AttestationException rejected(DcapEvidence ev) {
        return assertThrows(AttestationException.class, () -> verify(ev));
    }

    static AttestationException rejected(DcapEvidence ev, UnaryOperator<Collateral.Builder> change) throws Exception {
        Collateral c = change.apply(Collateral.fromJson(ev.collateralJson()).toBuilder()).build();
        return assertThrows(AttestationException.class, () -> verifierFor(ev).verify(ev.quote(), c, ev.verificationTime()));
    }

    static AttestationException rejectedAt(DcapEvidence ev, Instant at) {
        return assertThrows(AttestationException.class, () -> verifierFor(ev).verify(ev.quote(),
                Collateral.fromJson(ev.collateralJson()), at));
    }

    static DcapEvidence withPki(MockIntelPki.Builder pki) {
        return DcapEvidence.tdx().pki(pki.build()).build();
    }

    static ArrayNode levels(ObjectNode tcbInfo) {
        return (ArrayNode) tcbInfo.get("tcbLevels");
    }

    @Test
    void baseline_tdxAndSgxEvidenceVerifyUpToDate() throws Exception {
        assertThat(verify(DcapEvidence.tdx().build()).status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(verify(DcapEvidence.sgx().build()).status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(verify(DcapEvidence.tdx().td15().build()).status()).isEqualTo(TcbStatus.UP_TO_DATE);
        assertThat(verify(DcapEvidence.tdx().version(5).build()).status()).isEqualTo(TcbStatus.UP_TO_DATE);
    }

    @Nested
    class TrustAnchor {
        @Test
        void productionVerifier_rejectsMockRoot_asRootCaUntrusted() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            AttestationException e = assertThrows(AttestationException.class, () -> QuoteVerifier.create()
                    .verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), T));
            assertThat(e.reason()).isEqualTo(Reason.ROOT_CA_UNTRUSTED);
            assertThat(e.getMessage()).contains(QuoteVerifier.INTEL_SGX_ROOT_CA_SHA256);
        }

        @Test
        void chainsFromAnotherRoot_areRootCaUntrusted() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            DcapEvidence other = DcapEvidence.tdx().seed(99).build();
            // Root CRL of the trusted root, everything else from another hierarchy with the same names.
            Collateral c = Collateral.fromJson(other.collateralJson()).toBuilder()
                    .rootCaCrl(Collateral.fromJson(ev.collateralJson()).rootCaCrl()).build();
            AttestationException e = assertThrows(AttestationException.class,
                    () -> verifierFor(ev).verify(other.quote(), c, T));
            assertThat(e.reason()).isEqualTo(Reason.ROOT_CA_UNTRUSTED);
            assertThat(e.getMessage()).contains("UnknownIssuer");
        }

        @Test
        void rootListedInItsOwnCrl_isCertRevoked() {
            assertThat(rejected(withPki(MockIntelPki.builder().revoke(Role.ROOT))).reason()).isEqualTo(Reason.CERT_REVOKED);
        }
    }

    @Nested
    class Crls {
        @Test
        void pckCrlSignedByWrongKey_isCrlInvalid() {
            assertThat(rejected(withPki(MockIntelPki.builder().crlSignedByWrongKey(CrlRole.PCK_CRL))).reason())
                    .isEqualTo(Reason.CRL_INVALID);
        }

        @Test
        void rootCrlSignedByWrongKey_isCrlInvalid() {
            assertThat(rejected(withPki(MockIntelPki.builder().crlSignedByWrongKey(CrlRole.ROOT_CRL))).reason())
                    .isEqualTo(Reason.CRL_INVALID);
        }

        @Test
        void garbageCrl_isCrlInvalid() throws Exception {
            assertThat(rejected(DcapEvidence.tdx().build(), b -> b.pckCrl(new byte[] {0x30, 0x03, 1, 2, 3})).reason())
                    .isEqualTo(Reason.CRL_INVALID);
        }

        @Test
        void noCrlFromThePckCa_isCrlMissing() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            byte[] rootCrl = Collateral.fromJson(ev.collateralJson()).rootCaCrl();
            assertThat(rejected(ev, b -> b.pckCrl(rootCrl)).reason()).isEqualTo(Reason.CRL_MISSING);
        }

        @Test
        void pckCrlNextUpdateReached_isCrlExpired_exclusiveBound() {
            DcapEvidence ev = withPki(MockIntelPki.builder().crlNextUpdate(CrlRole.PCK_CRL, T));
            assertThat(rejectedAt(ev, T).reason()).isEqualTo(Reason.CRL_EXPIRED);
        }

        @Test
        void rootCrlExpired_isCrlExpired() {
            DcapEvidence ev = withPki(MockIntelPki.builder().crlNextUpdate(CrlRole.ROOT_CRL, T.minusSeconds(1)));
            assertThat(rejected(ev).reason()).isEqualTo(Reason.CRL_EXPIRED);
        }
    }

    @Nested
    class Certificates {
        @Test
        void revokedPckLeaf_isCertRevoked() {
            assertThat(rejected(withPki(MockIntelPki.builder().revoke(Role.PCK_LEAF))).reason())
                    .isEqualTo(Reason.CERT_REVOKED);
        }

        @Test
        void revokedPckCa_isCertRevoked() {
            assertThat(rejected(withPki(MockIntelPki.builder().revoke(Role.PCK_CA))).reason())
                    .isEqualTo(Reason.CERT_REVOKED);
        }

        @Test
        void revokedTcbSigner_isCertRevoked() {
            AttestationException e = rejected(withPki(MockIntelPki.builder().revoke(Role.TCB_SIGNER)));
            assertThat(e.reason()).isEqualTo(Reason.CERT_REVOKED);
            assertThat(e.getMessage()).contains("TCB Info");
        }

        @Test
        void expiredPckLeaf_isCertExpired() {
            assertThat(rejected(withPki(MockIntelPki.builder().notAfter(Role.PCK_LEAF, T.minusSeconds(1)))).reason())
                    .isEqualTo(Reason.CERT_EXPIRED);
        }

        @Test
        void notAfterEqualsNow_isStillValid_inclusiveBound() throws Exception {
            assertThat(verify(withPki(MockIntelPki.builder().notAfter(Role.PCK_LEAF, T))).status())
                    .isEqualTo(TcbStatus.UP_TO_DATE);
        }

        @Test
        void tcbSignerNotYetValid_isCertNotYetValid() {
            assertThat(rejected(withPki(MockIntelPki.builder().notBefore(Role.TCB_SIGNER, T.plusSeconds(1)))).reason())
                    .isEqualTo(Reason.CERT_NOT_YET_VALID);
        }

        @Test
        void tcbSignerThatIsACa_isCaUsedAsEndEntity() {
            AttestationException e = rejected(withPki(MockIntelPki.builder().ca(Role.TCB_SIGNER, true)));
            assertThat(e.reason()).isEqualTo(Reason.CERT_CHAIN_INVALID);
            assertThat(e.getMessage()).contains("CaUsedAsEndEntity");
        }

        @Test
        void pckCaThatIsNotACa_isEndEntityUsedAsCa() {
            AttestationException e = rejected(withPki(MockIntelPki.builder().ca(Role.PCK_CA, false)));
            assertThat(e.reason()).isEqualTo(Reason.CERT_CHAIN_INVALID);
            assertThat(e.getMessage()).contains("EndEntityUsedAsCa");
        }

        @Test
        void unknownCriticalExtension_isCertChainInvalid() {
            AttestationException e = rejected(withPki(MockIntelPki.builder().unknownCriticalExtension(Role.PCK_LEAF)));
            assertThat(e.reason()).isEqualTo(Reason.CERT_CHAIN_INVALID);
            assertThat(e.getMessage()).contains("UnsupportedCriticalExtension");
        }

        @Test
        void emptyTcbInfoChain_isChainTooShort() throws Exception {
            AttestationException e = rejected(DcapEvidence.tdx().build(), b -> b.tcbInfoIssuerChain("\n"));
            assertThat(e.reason()).isEqualTo(Reason.CERT_CHAIN_INVALID);
            assertThat(e.getMessage()).contains("Certificate chain is too short for TCB Info");
        }

        @Test
        void emptyPckChainInQuote_isChainTooShort() {
            AttestationException e = rejected(DcapEvidence.tdx().pckChainPem("INVALID_CERTIFICATE_DATA").build());
            assertThat(e.reason()).isEqualTo(Reason.CERT_CHAIN_INVALID);
            assertThat(e.getMessage()).contains("too short in quote");
        }

        @Test
        void missingSgxExtension_isPckExtensionInvalid() {
            assertThat(rejected(withPki(MockIntelPki.builder().sgxExtension(null))).reason())
                    .isEqualTo(Reason.PCK_EXTENSION_INVALID);
        }
    }

    @Nested
    class QuoteHeaderChecks {
        @Test
        void truncatedQuote_isMalformed() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            byte[] q = java.util.Arrays.copyOf(ev.quote(), 700);
            AttestationException e = assertThrows(AttestationException.class,
                    () -> verifierFor(ev).verify(q, Collateral.fromJson(ev.collateralJson()), T));
            assertThat(e.reason()).isEqualTo(Reason.MALFORMED_QUOTE);
            assertThat(e.getMessage()).contains("Not enough data");
        }

        @Test
        void unknownVersion_isUnsupportedVersion() {
            assertThat(rejected(DcapEvidence.tdx().version(6).build()).reason()).isEqualTo(Reason.UNSUPPORTED_VERSION);
        }

        @Test
        void sgxQuoteVersion4_isUnsupportedVersion() {
            AttestationException e = rejected(DcapEvidence.sgx().version(4).build());
            assertThat(e.reason()).isEqualTo(Reason.UNSUPPORTED_VERSION);
            assertThat(e.getMessage()).contains("SGX TEE quote must have version 3");
        }

        @Test
        void unknownTeeType_isUnsupportedTeeType() {
            assertThat(rejected(DcapEvidence.tdx().teeType(0x42).build()).reason()).isEqualTo(Reason.UNSUPPORTED_TEE_TYPE);
        }

        @Test
        void unknownV5BodyType_isMalformed() {
            assertThat(rejected(DcapEvidence.tdx().version(5).v5BodyType(9).build()).reason())
                    .isEqualTo(Reason.MALFORMED_QUOTE);
        }

        @Test
        void foreignQeVendor_isUnknownQeVendor() {
            assertThat(rejected(DcapEvidence.tdx().qeVendorId("00".repeat(16)).build()).reason())
                    .isEqualTo(Reason.UNKNOWN_QE_VENDOR);
        }

        @Test
        void p384AttestationKeyType_isUnsupported() {
            assertThat(rejected(DcapEvidence.tdx().attestationKeyType(3).build()).reason())
                    .isEqualTo(Reason.UNSUPPORTED_ATTESTATION_KEY_TYPE);
        }

        @Test
        void certificationDataType4_isUnsupported() {
            assertThat(rejected(DcapEvidence.tdx().certificationDataType(4).build()).reason())
                    .isEqualTo(Reason.UNSUPPORTED_CERTIFICATION_DATA);
        }

        @Test
        void outerCertificationType5_isAcceptedAsTheReferenceDoes() throws Exception {
            assertThat(verify(DcapEvidence.tdx().outerCertificationType(5).build()).status())
                    .isEqualTo(TcbStatus.UP_TO_DATE);
        }

        @Test
        void trailingBytes_areIgnored() throws Exception {
            assertThat(verify(DcapEvidence.tdx().trailingZeros(70).build()).quote().trailingBytes()).isEqualTo(70);
        }
    }

    @Nested
    class CollateralChecks {
        @Test
        void tcbInfoWithoutId_isMalformedCollateral() {
            AttestationException e = rejected(DcapEvidence.tdx().tcbInfo(t -> t.remove("id")).build());
            assertThat(e.reason()).isEqualTo(Reason.MALFORMED_COLLATERAL);
            assertThat(e.getMessage()).contains("Failed to decode TcbInfo");
        }

        @Test
        void tcbInfoUnknownStatus_isMalformedCollateral() {
            assertThat(rejected(DcapEvidence.tdx().tcbInfo(t -> ((ObjectNode) levels(t).get(0))
                    .put("tcbStatus", "Fine")).build()).reason()).isEqualTo(Reason.MALFORMED_COLLATERAL);
        }

        @Test
        void badIssueDate_isMalformedCollateral() {
            AttestationException e = rejected(DcapEvidence.tdx().tcbInfo(t -> t.put("issueDate", "yesterday")).build());
            assertThat(e.reason()).isEqualTo(Reason.MALFORMED_COLLATERAL);
            assertThat(e.getMessage()).contains("Failed to parse TCB Info issue date");
        }

        @Test
        void beforeIssueDate_isCollateralNotYetValid() {
            DcapEvidence ev = DcapEvidence.tdx().build();
            assertThat(rejectedAt(ev, Instant.parse("2025-05-31T23:59:59Z")).reason())
                    .isEqualTo(Reason.COLLATERAL_NOT_YET_VALID);
        }

        @Test
        void afterNextUpdate_isCollateralExpired_butEqualityPasses() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            Instant next = Instant.parse("2025-07-01T00:00:00Z");
            assertThat(rejectedAt(ev, next.plusSeconds(1)).reason()).isEqualTo(Reason.COLLATERAL_EXPIRED);
            assertThat(verifierFor(ev).verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), next).status())
                    .isEqualTo(TcbStatus.UP_TO_DATE);
        }

        @Test
        void qeIdentityExpired_isCollateralExpired() {
            AttestationException e = rejected(DcapEvidence.tdx()
                    .qeIdentity(q -> q.put("nextUpdate", "2025-06-14T00:00:00Z")).build());
            assertThat(e.reason()).isEqualTo(Reason.COLLATERAL_EXPIRED);
            assertThat(e.getMessage()).contains("QE Identity expired");
        }

        @Test
        void zeroTcbInfoSignature_isTcbInfoSignatureInvalid() throws Exception {
            assertThat(rejected(DcapEvidence.tdx().build(), b -> b.tcbInfoSignature(new byte[64])).reason())
                    .isEqualTo(Reason.TCB_INFO_SIGNATURE_INVALID);
        }

        @Test
        void editedTcbInfoText_isTcbInfoSignatureInvalid() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            String edited = ev.tcbInfoJson().replace("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18");
            assertThat(rejected(ev, b -> b.tcbInfo(edited)).reason()).isEqualTo(Reason.TCB_INFO_SIGNATURE_INVALID);
        }

        @Test
        void reformattedButEquivalentTcbInfo_isStillRejected_signatureIsOverExactBytes() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            String spaced = ev.tcbInfoJson().replace(",\"version\"", ", \"version\"");
            assertThat(rejected(ev, b -> b.tcbInfo(spaced)).reason()).isEqualTo(Reason.TCB_INFO_SIGNATURE_INVALID);
        }

        @Test
        void unsignedExpiredTcbInfo_reportsExpiryFirst_likeTheReference() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            String expired = ev.tcbInfoJson().replace("2025-07-01T00:00:00Z", "2025-06-02T00:00:00Z");
            assertThat(rejected(ev, b -> b.tcbInfo(expired)).reason()).isEqualTo(Reason.COLLATERAL_EXPIRED);
        }

        @Test
        void zeroQeIdentitySignature_isQeIdentitySignatureInvalid() throws Exception {
            assertThat(rejected(DcapEvidence.tdx().build(), b -> b.qeIdentitySignature(new byte[64])).reason())
                    .isEqualTo(Reason.QE_IDENTITY_SIGNATURE_INVALID);
        }

        @Test
        void sgxQeIdentityForTdxQuote_isQeIdentityUnsupported() {
            AttestationException e = rejected(DcapEvidence.tdx().qeIdentity(q -> q.put("id", "QE")).build());
            assertThat(e.reason()).isEqualTo(Reason.QE_IDENTITY_UNSUPPORTED);
            assertThat(e.getMessage()).contains("expected TD_QE version [2, 3]");
        }

        @Test
        void fmspcOfAnotherPlatform_isFmspcMismatch() {
            assertThat(rejected(DcapEvidence.tdx().tcbInfo(t -> t.put("fmspc", "00906EA10000")).build()).reason())
                    .isEqualTo(Reason.FMSPC_MISMATCH);
        }

        @Test
        void sgxTcbInfoForTdxQuote_isTcbInfoMismatch() {
            assertThat(rejected(DcapEvidence.tdx().tcbInfo(t -> t.put("id", "SGX")).build()).reason())
                    .isEqualTo(Reason.TCB_INFO_MISMATCH);
        }

        @Test
        void fifteenSgxComponents_isComponentCountMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().tcbInfo(t -> {
                for (var l : levels(t)) {
                    ((ArrayNode) l.get("tcb").get("sgxtcbcomponents")).remove(15);
                }
            }).build());
            assertThat(e.reason()).isEqualTo(Reason.TCB_COMPONENT_COUNT_MISMATCH);
            assertThat(e.getMessage()).contains("SGX component count mismatch: expected 16, got 15");
        }

        @Test
        void seventeenTdxComponents_isComponentCountMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().tcbInfo(t -> ((ArrayNode) levels(t).get(0).get("tcb")
                    .get("tdxtcbcomponents")).addObject().put("svn", 0)).build());
            assertThat(e.reason()).isEqualTo(Reason.TCB_COMPONENT_COUNT_MISMATCH);
        }
    }

    @Nested
    class QeReport {
        @Test
        void corruptQeReportSignature_isInvalid() {
            assertThat(rejected(DcapEvidence.tdx().corruptQeReportSignature().build()).reason())
                    .isEqualTo(Reason.QE_REPORT_SIGNATURE_INVALID);
        }

        @Test
        void qeAuthDataOf16Bytes_isInvalid() {
            assertThat(rejected(DcapEvidence.tdx().qeAuthDataLength(16).build()).reason())
                    .isEqualTo(Reason.QE_AUTH_DATA_INVALID);
        }

        @Test
        void qeReportDataNotBindingTheKey_isMismatch() {
            assertThat(rejected(DcapEvidence.tdx().qeReportData("00".repeat(64)).build()).reason())
                    .isEqualTo(Reason.QE_REPORT_DATA_MISMATCH);
        }

        @Test
        void qeMrSignerDiffers_isQeIdentityMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().qeMrSigner("ee".repeat(32)).build());
            assertThat(e.reason()).isEqualTo(Reason.QE_IDENTITY_MISMATCH);
            assertThat(e.getMessage()).contains("QE MRSIGNER mismatch");
        }

        @Test
        void debugQe_isRejectedEvenWithAllowDebug() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().qeAttributes("13000000000000000000000000000000").build();
            AttestationException e = assertThrows(AttestationException.class, () -> QuoteVerifier.builder()
                    .insecureTrustAnchorForTesting(ev.rootCertificate()).allowDebug(true).build()
                    .verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), T));
            assertThat(e.reason()).isEqualTo(Reason.QE_IDENTITY_MISMATCH);
            assertThat(e.getMessage()).contains("Debug mode is enabled");
        }

        @Test
        void qeIsvProdIdDiffers_isQeIdentityMismatch() {
            assertThat(rejected(DcapEvidence.tdx().qeIsvProdId(7).build()).getMessage()).contains("QE ISVPRODID mismatch");
        }

        @Test
        void qeMiscSelectDiffers_isQeIdentityMismatch() {
            assertThat(rejected(DcapEvidence.tdx().qeMiscSelect(1).build()).getMessage()).contains("QE MISCSELECT mismatch");
        }

        @Test
        void qeAttributesDiffer_isQeIdentityMismatch() {
            assertThat(rejected(DcapEvidence.tdx().qeAttributes("11010000000000000000000000000000").build()).getMessage())
                    .contains("QE ATTRIBUTES mismatch at byte 1");
        }

        @Test
        void qeIsvSvnBelowEveryLevel_isQeTcbTooLow() {
            AttestationException e = rejected(DcapEvidence.tdx().qeIsvSvn(1).build());
            assertThat(e.reason()).isEqualTo(Reason.QE_TCB_TOO_LOW);
            assertThat(e.getMessage()).contains("QE ISVSVN 1 is below minimum required 2");
        }

        @Test
        void qeIdentityWithoutLevels_isQeTcbTooLow() {
            assertThat(rejected(DcapEvidence.tdx().qeIdentity(q -> q.putArray("tcbLevels")).build()).getMessage())
                    .contains("No TCB levels found in QE Identity");
        }
    }

    @Nested
    class QuoteSignature {
        @Test
        void corruptQuoteSignature_isInvalid() {
            assertThat(rejected(DcapEvidence.tdx().corruptQuoteSignature().build()).reason())
                    .isEqualTo(Reason.QUOTE_SIGNATURE_INVALID);
        }

        @Test
        void bitFlipInTheTdReport_isQuoteSignatureInvalid() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().build();
            byte[] q = ev.quote();
            q[48 + 520] ^= 0x80; // report_data
            AttestationException e = assertThrows(AttestationException.class,
                    () -> verifierFor(ev).verify(q, Collateral.fromJson(ev.collateralJson()), T));
            assertThat(e.reason()).isEqualTo(Reason.QUOTE_SIGNATURE_INVALID);
        }
    }

    @Nested
    class TcbLevels {
        @Test
        void teeTcbSvnBelowEveryLevel_isNoMatchingTcbLevel() {
            assertThat(rejected(DcapEvidence.tdx().teeTcbSvn("04010300000000000000000000000000").build()).reason())
                    .isEqualTo(Reason.NO_MATCHING_TCB_LEVEL);
        }

        @Test
        void cpuSvnBelowEveryLevel_isNoMatchingTcbLevel() {
            DcapEvidence ev = DcapEvidence.tdx().tcbInfo(t -> {
                for (var l : levels(t)) {
                    ((ObjectNode) l.get("tcb").get("sgxtcbcomponents").get(0)).put("svn", 200);
                }
            }).build();
            assertThat(rejected(ev).reason()).isEqualTo(Reason.NO_MATCHING_TCB_LEVEL);
        }

        @Test
        void lowerPceSvn_matchesTheOutOfDateLevel_withItsAdvisories() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().sgxExtension(MockIntelPki.SgxExtension.defaults().withPceSvn(6))
                    .tcbInfo(t -> ((ObjectNode) levels(t).get(0).get("tcb")).put("pcesvn", 11)).build();
            VerifiedReport r = verify(ev);
            assertThat(r.status()).isEqualTo(TcbStatus.OUT_OF_DATE);
            assertThat(r.advisoryIds()).containsExactly("INTEL-SA-00106", "INTEL-SA-00115");
            assertThat(r.tcbDate()).isEqualTo("2018-01-04T00:00:00Z");
        }

        @Test
        void levelsAreMatchedInCanonicalOrderNotJsonOrder() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().tcbInfo(t -> {
                ArrayNode l = levels(t);
                var first = l.remove(0);
                l.add(first); // the OutOfDate level now comes first in the JSON
            }).build();
            assertThat(verify(ev).status()).isEqualTo(TcbStatus.UP_TO_DATE);
        }

        @Test
        void revokedPlatformLevel_isTcbRevoked() {
            assertThat(rejected(DcapEvidence.tdx().tcbInfo(t -> ((ObjectNode) levels(t).get(0))
                    .put("tcbStatus", "Revoked")).build()).reason()).isEqualTo(Reason.TCB_REVOKED);
        }

        @Test
        void revokedQeLevel_isTcbRevoked() {
            assertThat(rejected(DcapEvidence.tdx().qeIdentity(q -> ((ObjectNode) q.get("tcbLevels").get(0))
                    .put("tcbStatus", "Revoked")).build()).reason()).isEqualTo(Reason.TCB_REVOKED);
        }

        @Test
        void statusesMergeBySeverity_andAdvisoriesUnion() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx()
                    .tcbInfo(t -> ((ObjectNode) levels(t).get(0)).put("tcbStatus", "ConfigurationNeeded")
                            .putArray("advisoryIDs").add("INTEL-SA-1").add("INTEL-SA-2"))
                    .qeIsvSvn(3) // QE level isvsvn 2: OutOfDate
                    .qeIdentity(q -> ((ArrayNode) q.get("tcbLevels").get(1).withArray("advisoryIDs"))
                            .add("INTEL-SA-2").add("INTEL-SA-3"))
                    .build();
            VerifiedReport r = verify(ev);
            assertThat(r.status()).isEqualTo(TcbStatus.OUT_OF_DATE); // dcap-qvl: max severity (Intel: OutOfDateConfigurationNeeded)
            assertThat(r.advisoryIds()).containsExactly("INTEL-SA-1", "INTEL-SA-2", "INTEL-SA-3");
            assertThat(r.qeStatus().status()).isEqualTo(TcbStatus.OUT_OF_DATE);
            assertThat(r.platformStatus().status()).isEqualTo(TcbStatus.CONFIGURATION_NEEDED);
        }
    }

    @Nested
    class TdxModule {
        @Test
        void mrSignerSeamDiffers_isTdxModuleMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().mrSignerSeam("01".repeat(48)).build());
            assertThat(e.reason()).isEqualTo(Reason.TDX_MODULE_MISMATCH);
            assertThat(e.getMessage()).contains("MRSIGNER mismatch");
        }

        @Test
        void seamAttributesSet_isTdxModuleMismatch() {
            assertThat(rejected(DcapEvidence.tdx().seamAttributes("0100000000000000").build()).reason())
                    .isEqualTo(Reason.TDX_MODULE_MISMATCH);
        }

        @Test
        void unknownModuleVersion_isTdxModuleMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().teeTcbSvn("06020300000000000000000000000000").build());
            assertThat(e.reason()).isEqualTo(Reason.TDX_MODULE_MISMATCH);
            assertThat(e.getMessage()).contains("No TDX module identity with id TDX_02");
        }

        @Test
        void moduleIsvSvnBelowItsLevels_isTdxModuleMismatch() {
            AttestationException e = rejected(DcapEvidence.tdx().tcbInfo(t -> ((ObjectNode) t.get("tdxModuleIdentities")
                    .get(0).get("tcbLevels").get(1).get("tcb")).put("isvsvn", 7)).tcbInfo(t -> {
                        ArrayNode ml = (ArrayNode) t.get("tdxModuleIdentities").get(0).get("tcbLevels");
                        ((ObjectNode) ml.get(0).get("tcb")).put("isvsvn", 9);
                        ((ObjectNode) ml.get(1).get("tcb")).put("isvsvn", 7);
                    }).build());
            assertThat(e.reason()).isEqualTo(Reason.TDX_MODULE_MISMATCH);
            assertThat(e.getMessage()).contains("TDX module ISVSVN 6 is below minimum");
        }

        @Test
        void missingTdxModule_isTdxModuleMismatch() {
            assertThat(rejected(DcapEvidence.tdx().tcbInfo(t -> t.remove("tdxModule")).build()).getMessage())
                    .contains("missing tdxModule");
        }

        @Test
        void outOfDateModule_isMergedIntoPlatformStatus() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().teeTcbSvn("05010300000000000000000000000000").tcbInfo(t -> {
                ArrayNode ml = (ArrayNode) t.get("tdxModuleIdentities").get(0).get("tcbLevels");
                ((ObjectNode) ml.get(0).get("tcb")).put("isvsvn", 6);
            }).build();
            VerifiedReport r = verify(ev);
            assertThat(r.status()).isEqualTo(TcbStatus.OUT_OF_DATE);
            assertThat(r.platformStatus().status()).isEqualTo(TcbStatus.OUT_OF_DATE);
        }
    }

    @Nested
    class Attributes {
        @Test
        void debugTd_isDebugEnabled_unlessAllowed() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().tdAttributes("0100001000000000").build();
            assertThat(rejected(ev).reason()).isEqualTo(Reason.DEBUG_ENABLED);
            assertThat(QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).allowDebug(true).build()
                    .verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), T).tdReport().isDebug()).isTrue();
        }

        @Test
        void debugSgxEnclave_isDebugEnabled() {
            assertThat(rejected(DcapEvidence.sgx().sgxAttributes("07000000000000000700000000000000").build()).reason())
                    .isEqualTo(Reason.DEBUG_ENABLED);
        }

        @Test
        void reservedTudBit_isTdAttributesInvalid_evenWithAllowDebug() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().tdAttributes("0200001000000000").build();
            AttestationException e = assertThrows(AttestationException.class, () -> QuoteVerifier.builder()
                    .insecureTrustAnchorForTesting(ev.rootCertificate()).allowDebug(true).build()
                    .verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), T));
            assertThat(e.reason()).isEqualTo(Reason.TD_ATTRIBUTES_INVALID);
        }

        @Test
        void septVeDisableClear_isTdAttributesInvalid() {
            AttestationException e = rejected(DcapEvidence.tdx().tdAttributes("0000000000000000").build());
            assertThat(e.reason()).isEqualTo(Reason.TD_ATTRIBUTES_INVALID);
            assertThat(e.getMessage()).contains("SEPT_VE_DISABLE");
        }

        @Test
        void perfmon_isRejectedAsReserved_likeTheReference() {
            assertThat(rejected(DcapEvidence.tdx().tdAttributes("0000001000000080").build()).reason())
                    .isEqualTo(Reason.TD_ATTRIBUTES_INVALID);
        }

        @Test
        void pksAndKl_areAllowed() throws Exception {
            assertThat(verify(DcapEvidence.tdx().tdAttributes("000000d000000000").build()).status())
                    .isEqualTo(TcbStatus.UP_TO_DATE);
        }

        @Test
        void serviceTd_isRejectedUnlessAllowed() throws Exception {
            DcapEvidence ev = DcapEvidence.tdx().td15().mrServiceTd("01".repeat(48)).build();
            assertThat(rejected(ev).reason()).isEqualTo(Reason.SERVICE_TD_NOT_ALLOWED);
            assertThat(QuoteVerifier.builder().insecureTrustAnchorForTesting(ev.rootCertificate()).allowServiceTd(true)
                    .build().verify(ev.quote(), Collateral.fromJson(ev.collateralJson()), T).status())
                    .isEqualTo(TcbStatus.UP_TO_DATE);
        }
    }
}
