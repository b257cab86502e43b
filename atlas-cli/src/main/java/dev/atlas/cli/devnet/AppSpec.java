package dev.atlas.cli.devnet;

import java.util.Objects;
import java.util.Optional;

/**
 * What {@link DevNet#deploy} deploys: by default the demo app (a small HTTP service on the VM address's port 8080,
 * also plain on port 80, behind {@code atlas server} on port 443, the app's own aTLS endpoint quoting through the
 * guest agent), or a custom bash runner script.
 *
 * @param name the app (VM) name: letters, digits, '-', 1..32
 * @param instances how many instances (VMs) of the app, 1..8
 * @param allowed whether the auth server is told to allow its compose hash before deploying; {@code false} deploys
 *     an app the KMS refuses keys to ({@link DevNet#deploy} then returns without waiting for it)
 * @param bashScript a custom {@code bash_script} for the compose (the demo app's when empty); it should serve on
 *     {@code $DSTACK_VM_ADDRESS}
 * @param waitReachable whether deploy waits until every instance answers through the gateway (the demo app only)
 */
public record AppSpec(String name, int instances, boolean allowed, Optional<String> bashScript,
        boolean waitReachable) {
    public AppSpec {
        Objects.requireNonNull(name, "name");
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9-]{0,31}")) {
            throw new IllegalArgumentException("app name " + name + ": expected letters, digits and '-', 1..32");
        }
        if (instances < 1 || instances > 8) {
            throw new IllegalArgumentException("app " + name + ": instances " + instances + ", expected 1..8");
        }
        Objects.requireNonNull(bashScript, "bashScript");
    }

    /** The demo app named {@code name}: one instance, allowed, waited for. */
    public static AppSpec demo(String name) {
        return builder(name).build();
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    public Builder toBuilder() {
        Builder b = new Builder(name).instances(instances).allowed(allowed).waitReachable(waitReachable);
        bashScript.ifPresent(b::bashScript);
        return b;
    }

    /** Builder of {@link AppSpec}. */
    public static final class Builder {
        private String name;
        private int instances = 1;
        private boolean allowed = true;
        private String bashScript;
        private Boolean waitReachable;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        public Builder name(String v) {
            name = Objects.requireNonNull(v, "name");
            return this;
        }

        public Builder instances(int v) {
            instances = v;
            return this;
        }

        public Builder allowed(boolean v) {
            allowed = v;
            return this;
        }

        public Builder bashScript(String v) {
            bashScript = Objects.requireNonNull(v, "bashScript");
            return this;
        }

        public Builder waitReachable(boolean v) {
            waitReachable = v;
            return this;
        }

        /** Default for waitReachable: allowed and the demo app. */
        public AppSpec build() {
            boolean wait = waitReachable != null ? waitReachable : allowed && bashScript == null;
            return new AppSpec(name, instances, allowed, Optional.ofNullable(bashScript), wait && allowed);
        }
    }
}
