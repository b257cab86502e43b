package dev.atlas.cli.devnet;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/**
 * The whole dstack deployment of the guide on this machine, as supervised child processes: {@code atlas
 * auth-server}, the KMS's simulated CVM and {@code atlas kms} (bootstrapped through {@code Onboard.Bootstrap}), the
 * gateway's simulated CVM and {@code atlas gateway}, and {@code atlas vmm} with the simulator backend, plus demo
 * apps deployed through the VMM. Configs, keys, logs ({@code logs/<component>.log}) and state
 * ({@code devnet.json}) live in one directory; {@link #up} on an existing directory resumes with the same keys.
 *
 * <p>{@link #close()} brings the devnet down when this object brought it up; an {@link #attach}ed one is left
 * running (call {@link #down()}).
 */
public final class DevNet implements AutoCloseable {
    private DevNet() {}

    /**
     * Starts (or resumes) the devnet in {@code options.dir()}; returns when every component is up and every demo
     * app answers through the gateway. On failure everything this call started is stopped.
     */
    public static DevNet up(DevOptions options, DevProgress progress) throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The devnet described by {@code dir/devnet.json} (running or not), for status, logs and down. */
    public static DevNet attach(Path dir) throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The components (pid, URL, state) and the apps. */
    public DevStatus status() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Deploys an app through the VMM's pRPC API (see {@link AppSpec}). */
    public DeployedApp deploy(AppSpec spec) throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The apps deployed so far. */
    public List<DeployedApp> apps() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Allows or denies an app's compose hash at the auth server (the KMS asks it at every key request). */
    public void setAllowed(DeployedApp app, boolean allowed) throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Stops and starts one component process ({@code vmm}, {@code gateway}, {@code auth}, ...), same config. */
    public void restart(String component) throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Gracefully stops everything: the apps' VMs, then the VMM, gateway, KMS, their CVMs, the auth server. */
    public void down() throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    /** {@link #down()} if this object brought the devnet up, else nothing. */
    @Override
    public void close() throws DevException {
        throw new UnsupportedOperationException("skeleton");
    }

    public Path dir() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** Where clients connect for every app URL: 127.0.0.1 and the gateway's proxy port (SNI picks the app). */
    public InetSocketAddress gatewayProxyAddress() {
        throw new UnsupportedOperationException("skeleton");
    }

    public String baseDomain() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** PEM of the CA that signed the gateway's {@code *.<base>} certificate (trust it for terminated URLs). */
    public Path gatewayCaCertificate() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The mock PCCS every simulated CVM's collateral comes from. */
    public String pccsUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** PEM of the mock Intel root (trust it through {@code --root-ca}, the for-testing option). */
    public Path mockRootCertificate() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The auth server's config ({@code auth-config.json}). */
    public Path authConfig() {
        throw new UnsupportedOperationException("skeleton");
    }

    public URI authUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The KMS's main RPC, {@code https://127.0.0.1:<port>}. */
    public URI kmsUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The gateway's RPC, {@code https://127.0.0.1:<port>}. */
    public URI gatewayRpcUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The gateway's admin API and dashboard ({@link #gatewayAdminToken()} as Bearer). */
    public URI gatewayAdminUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    public String gatewayAdminToken() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** The VMM's pRPC and dashboard, {@code http://127.0.0.1:<port>} ({@link #vmmToken()} as Bearer). */
    public URI vmmUrl() {
        throw new UnsupportedOperationException("skeleton");
    }

    public String vmmToken() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** {@code DIR/hosts}: every app host name at 127.0.0.1, for {@code -Djdk.net.hosts.file}. */
    public Path hostsFile() {
        throw new UnsupportedOperationException("skeleton");
    }

    /** {@code DIR/logs/<component>.log} (for an app: its first VM's serial log). */
    public Path logFile(String component) {
        throw new UnsupportedOperationException("skeleton");
    }
}
