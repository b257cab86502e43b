package dev.atlas.dstack.gateway.certbot;

import dev.atlas.dstack.ra.RaException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The standalone {@code certbot.toml} workflow over {@code workdir} (upstream {@code certbot/src/bot.rs}):
 * {@code credentials.json} (account created on first use, reused while its {@code acme_url} matches),
 * {@code live/cert.pem} + {@code live/key.pem} (replaced atomically), {@code backup/<timestamp>/} per
 * certificate, renewal when {@code notAfter - renew_days_before <= now}, {@code renewed_hook}, CAA pinning.
 */
public final class Certbot {
    private Certbot() {
    }

    /** A certbot with the JDK's trusted roots plus {@code acme_ca_cert}. */
    public static Certbot create(CertbotConfig config, DnsProvider dns, TxtLookup txt, Clock clock) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** A certbot trusting {@code trustedRoots} (plus the JDK's and {@code acme_ca_cert}) for the ACME server. */
    public static Certbot create(CertbotConfig config, DnsProvider dns, TxtLookup txt, Clock clock,
            List<X509Certificate> trustedRoots) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Loads or creates the account (and, when created and {@code auto_set_caa}, sets CAA); returns it. */
    public AcmeCredentials init() throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * One renewal: issues when {@code live/} is empty, when the certificate is due or when {@code force}; returns
     * the new certificate (and runs {@code renewed_hook}) or empty when nothing was due.
     */
    public Optional<IssuedCertificate> renew(boolean force) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The certificate in {@code live/}, if any. */
    public Optional<IssuedCertificate> current() throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Pins CAA for every base name of {@code domains}. */
    public void setCaa() throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }

    /**
     * The daemon loop: {@link #renew(boolean) renew(false)} then wait {@code renew_interval}, until
     * {@code stopped} returns true or the thread is interrupted; failures are logged and retried next round.
     */
    public void run(BooleanSupplier stopped) throws InterruptedException {
        throw new UnsupportedOperationException("skeleton");
    }
}
