package dev.atlas.dstack.kms;

import dev.atlas.dstack.kms.internal.SelfAgent;
import dev.atlas.dstack.ra.RaException;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The KMS process of §2.1: the onboard listener while keys are missing, then {@code update_certs}, then the main TLS
 * listener (and the admin listener when enabled).
 */
public final class KmsServer implements AutoCloseable {
    private final Builder builder;

    private KmsServer(Builder builder) {
        this.builder = builder;
    }

    public static Builder builder(KmsConfig config) {
        return new Builder(config);
    }

    /** Returns once the first listener (onboard or main) is up. */
    public KmsServer start() throws RaException, IOException {
        throw new UnsupportedOperationException("skeleton");
    }

    public InetSocketAddress rpcAddress() {
        throw new UnsupportedOperationException("skeleton");
    }

    public Optional<InetSocketAddress> onboardAddress() {
        throw new UnsupportedOperationException("skeleton");
    }

    public Optional<InetSocketAddress> adminAddress() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Waits until the main server is up (after onboarding), at most {@code timeout}. */
    public void awaitMainServer(Duration timeout) throws RaException, IOException, InterruptedException {
        throw new UnsupportedOperationException("skeleton");
    }

    @Override
    public void close() {
    }

    public static final class Builder {
        private final KmsConfig config;
        private Clock clock = Clock.systemUTC();
        private SelfAgent selfAgent;
        private MeterRegistry meterRegistry;

        private Builder(KmsConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public Builder selfAgent(SelfAgent selfAgent) {
            this.selfAgent = Objects.requireNonNull(selfAgent, "selfAgent");
            return this;
        }

        public Builder meterRegistry(MeterRegistry registry) {
            this.meterRegistry = Objects.requireNonNull(registry, "registry");
            return this;
        }

        public KmsServer build() {
            return new KmsServer(this);
        }

        public KmsServer start() throws RaException, IOException {
            return build().start();
        }
    }
}
