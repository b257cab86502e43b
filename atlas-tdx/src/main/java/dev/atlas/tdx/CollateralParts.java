package dev.atlas.tdx;

import dev.atlas.tdx.AttestationException.Reason;
import dev.atlas.tdx.internal.Pki;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Parsed forms of a {@link Collateral}'s parts, each computed once on first use. Parsing is a pure
 * function of the (immutable) collateral, so memoizing both values and failures is exact. Nothing
 * time-dependent and no verification result is stored here.
 */
final class CollateralParts {
    private static final int ROOT_CRL = 0;
    private static final int PCK_CRL = 1;
    private static final int TCB_CHAIN = 2;
    private static final int QE_CHAIN = 3;
    private static final int PCK_CHAIN = 4;
    private static final int TCB_INFO = 5;
    private static final int QE_IDENTITY = 6;

    private final Collateral c;
    private final AtomicReferenceArray<Object> slots = new AtomicReferenceArray<>(7);

    CollateralParts(Collateral c) {
        this.c = c;
    }

    private interface Parser {
        Object parse() throws AttestationException;
    }

    private Object get(int slot, Parser p) throws AttestationException {
        Object v = slots.get(slot);
        if (v == null) {
            try {
                v = p.parse();
            } catch (AttestationException e) {
                v = e;
            }
            slots.compareAndSet(slot, null, v);
            v = slots.get(slot);
        }
        if (v instanceof AttestationException) {
            AttestationException e = (AttestationException) v;
            throw new AttestationException(e.reason(), e.detail(), e);
        }
        return v;
    }

    X509CRL rootCaCrl() throws AttestationException {
        return (X509CRL) get(ROOT_CRL, () -> Pki.parseCrl(c.rootCaCrlUnsafe(), "root_ca_crl"));
    }

    X509CRL pckCrl() throws AttestationException {
        return (X509CRL) get(PCK_CRL, () -> Pki.parseCrl(c.pckCrlUnsafe(), "pck_crl"));
    }

    @SuppressWarnings("unchecked")
    List<X509Certificate> tcbInfoIssuerChain() throws AttestationException {
        return (List<X509Certificate>) get(TCB_CHAIN, () -> Pki.parseChain(c.tcbInfoIssuerChain(),
                Reason.MALFORMED_COLLATERAL, "tcb_info_issuer_chain"));
    }

    @SuppressWarnings("unchecked")
    List<X509Certificate> qeIdentityIssuerChain() throws AttestationException {
        return (List<X509Certificate>) get(QE_CHAIN, () -> Pki.parseChain(c.qeIdentityIssuerChain(),
                Reason.MALFORMED_COLLATERAL, "qe_identity_issuer_chain"));
    }

    @SuppressWarnings("unchecked")
    List<X509Certificate> pckCertificateChain() throws AttestationException {
        return (List<X509Certificate>) get(PCK_CHAIN, () -> Pki.parseChain(c.pckCertificateChain(),
                Reason.MALFORMED_COLLATERAL, "pck_certificate_chain"));
    }

    TcbInfo tcbInfo() throws AttestationException {
        return (TcbInfo) get(TCB_INFO, () -> TcbInfo.parse(c.tcbInfo()));
    }

    QeIdentity qeIdentity() throws AttestationException {
        return (QeIdentity) get(QE_IDENTITY, () -> QeIdentity.parse(c.qeIdentity()));
    }
}
