package dev.atlas.dstack.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.RaException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The port policies the proxy enforces, per instance (spec §3.3 "Port policy"; upstream {@code proxy/port_policy.rs}).
 *
 * <p>The effective policy of an instance is, in order: the admin override ({@code Admin.SetInstancePortPolicy});
 * the policy the instance reported in {@code RegisterCvm} ({@link Instance#reportedPolicy()}); the policy fetched
 * from the instance's own guest agent. An instance with none of them is <b>fail-closed</b>: every port is refused,
 * and a background fetch of its {@code Worker.Info} ({@code POST http://<ip>:<agent_port>/prpc/Info?json}) reads
 * {@code tcb_info.app_compose.port_policy}, with {@code [core.proxy.port_policy_fetch]} timeout, retries and doubling
 * backoff. One fetch per instance runs at a time. A fetched policy is kept with the compose hash it was learned for
 * and ignored once the instance re-registers with another compose hash.
 *
 * <p>Stricter than upstream: the fetched {@code app_compose} must hash (SHA-256) to the instance's registered
 * {@code compose_hash}, so an agent cannot answer with another app's policy. As upstream, an empty {@code tcb_info}
 * (the app keeps it private: {@code public_tcbinfo = false}) yields the open policy; apps that need
 * {@code restrict_mode} report it at registration.
 *
 * <p>Admin overrides live in memory (one node; they do not survive a restart; see docs/dstack-gateway-routing.md).
 */
public final class PortPolicies {
    private static final System.Logger LOG = System.getLogger(PortPolicies.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The longest {@code app_compose} accepted from an agent (dstack's compose files are a few KiB). */
    static final int MAX_APP_COMPOSE = 1 << 20;

    /** Where the effective policy came from, as {@code GetInstancePortPolicyResponse.source} spells it. */
    public enum Source {
        ADMIN("admin"), INSTANCE("instance"), NONE("none");

        private final String wire;

        Source(String wire) {
            this.wire = wire;
        }

        /** {@code "admin"}, {@code "instance"} or {@code "none"}. */
        public String wire() {
            return wire;
        }
    }

    /** The answer of {@code Admin.GetInstancePortPolicy}. */
    public record State(Optional<PortPolicy> effective, Source source, Optional<PortPolicy> instanceReported,
                        Optional<PortPolicy> adminOverride) {}

    /** Calls an agent's {@code Info} and completes with its {@code tcb_info} string. */
    @FunctionalInterface
    public interface AgentInfo {
        CompletableFuture<String> tcbInfo(InetSocketAddress agent, Duration timeout);
    }

    private record Fetched(PortPolicy policy, String composeHash) {}

    /** A fetch that cannot succeed by retrying (the instance is gone, or its agent answered garbage). */
    static final class PermanentFetchFailure extends Exception {
        private static final long serialVersionUID = 1L;

        PermanentFetchFailure(String message) {
            super(message, null, false, false);
        }
    }

    private final ConcurrentHashMap<String, PortPolicy> overrides = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Fetched> fetched = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<Void>> inFlight = new ConcurrentHashMap<>();
    private final RouteSettings.PortPolicyFetch fetch;
    private final AgentInfo agent;
    private final ScheduledExecutorService scheduler;
    private final Function<String, Optional<Instance>> lookup;
    private final Function<Instance, InetSocketAddress> agentAddress;

    /**
     * @param fetch        {@code [core.proxy.port_policy_fetch]}
     * @param agent        the {@code Info} caller ({@link #httpAgentInfo()} in production)
     * @param scheduler    runs the retries (never blocked: the calls are asynchronous)
     * @param lookup       the current registration of an instance id (a fetch stops when it is gone)
     * @param agentAddress where an instance's agent listens ({@code <wg ip or 127.b.c.d>:<agent_port>})
     */
    public PortPolicies(RouteSettings.PortPolicyFetch fetch, AgentInfo agent, ScheduledExecutorService scheduler,
                        Function<String, Optional<Instance>> lookup,
                        Function<Instance, InetSocketAddress> agentAddress) {
        this.fetch = Objects.requireNonNull(fetch, "fetch");
        this.agent = Objects.requireNonNull(agent, "agent");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.lookup = Objects.requireNonNull(lookup, "lookup");
        this.agentAddress = Objects.requireNonNull(agentAddress, "agentAddress");
    }

    /** The {@code java.net.http} caller of {@code POST http://<agent>/prpc/Info?json}. */
    public static AgentInfo httpAgentInfo() {
        return new AgentInfoClient();
    }

    /** Sets (or replaces) the admin override of {@code instanceId}; it wins over everything else. */
    public void setAdminOverride(String instanceId, PortPolicy policy) {
        overrides.put(Objects.requireNonNull(instanceId, "instanceId"), Objects.requireNonNull(policy, "policy"));
    }

    /** Clears the admin override; true when there was one. */
    public boolean clearAdminOverride(String instanceId) {
        return overrides.remove(instanceId) != null;
    }

    /** The admin override of {@code instanceId}, if any. */
    public Optional<PortPolicy> adminOverride(String instanceId) {
        return Optional.ofNullable(overrides.get(instanceId));
    }

    /** What the instance itself declared: its {@code RegisterCvm} report, else a policy fetched for its compose. */
    public Optional<PortPolicy> instanceReported(Instance instance) {
        if (instance.reportedPolicy().isPresent()) {
            return instance.reportedPolicy();
        }
        Fetched f = fetched.get(instance.instanceId());
        if (f != null && f.composeHash().equals(instance.composeHash())) {
            return Optional.of(f.policy());
        }
        return Optional.empty();
    }

    /** The policy in force for {@code instance}; empty: unknown (fail closed). */
    public Optional<PortPolicy> effective(Instance instance) {
        PortPolicy o = overrides.get(instance.instanceId());
        return o != null ? Optional.of(o) : instanceReported(instance);
    }

    /** The {@code Admin.GetInstancePortPolicy} view of {@code instance}. */
    public State state(Instance instance) {
        Optional<PortPolicy> admin = adminOverride(instance.instanceId());
        Optional<PortPolicy> reported = instanceReported(instance);
        Source source = admin.isPresent() ? Source.ADMIN : reported.isPresent() ? Source.INSTANCE : Source.NONE;
        return new State(admin.isPresent() ? admin : reported, source, reported, admin);
    }

    /**
     * Whether a connection to {@code port} of {@code instance} is allowed. An unknown policy refuses (fail closed)
     * and starts the background fetch so that later connections can pass.
     */
    public boolean allows(Instance instance, int port) {
        Optional<PortPolicy> p = effective(instance);
        if (p.isEmpty()) {
            startFetch(instance.instanceId());
            return false;
        }
        return p.get().allows(port);
    }

    /** Whether the proxy sends a PROXY header to {@code port} of {@code instance} (false when unknown). */
    public boolean proxyProtocol(Instance instance, int port) {
        return effective(instance).map(p -> p.proxyProtocol(port)).orElse(false);
    }

    /** Forgets what was learned about {@code instanceId} (it was removed). The admin override stays. */
    public void forget(String instanceId) {
        fetched.remove(instanceId);
    }

    /** Whether a fetch for {@code instanceId} is running or waiting for its next retry. */
    boolean fetching(String instanceId) {
        return inFlight.containsKey(instanceId);
    }

    /** Completes when the current fetch round of {@code instanceId} ends (at once when none runs). */
    CompletableFuture<Void> fetchRound(String instanceId) {
        CompletableFuture<Void> f = inFlight.get(instanceId);
        return f == null ? CompletableFuture.completedFuture(null) : f.copy();
    }

    /** Starts the background fetch of {@code instanceId}'s policy unless one is already running. */
    void startFetch(String instanceId) {
        CompletableFuture<Void> round = new CompletableFuture<>();
        if (inFlight.putIfAbsent(instanceId, round) == null) {
            attempt(instanceId, 0, fetch.backoffInitial());
        }
    }

    private void endRound(String instanceId) {
        CompletableFuture<Void> f = inFlight.remove(instanceId);
        if (f != null) {
            f.complete(null);
        }
    }

    private void attempt(String instanceId, int attempt, Duration backoff) {
        Optional<Instance> current = lookup.apply(instanceId);
        if (current.isEmpty() || effective(current.get()).isPresent()) {
            endRound(instanceId); // gone, or a report/override/earlier fetch arrived meanwhile
            return;
        }
        Instance instance = current.get();
        InetSocketAddress address = agentAddress.apply(instance);
        CompletableFuture<String> call;
        try {
            call = agent.tcbInfo(address, fetch.timeout());
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        call.orTimeout(fetch.timeout().toMillis(), TimeUnit.MILLISECONDS).whenComplete((tcbInfo, error) -> {
            if (error == null) {
                try {
                    PortPolicy p = parseTcbInfo(tcbInfo, instance.composeHash());
                    fetched.put(instanceId, new Fetched(p, instance.composeHash()));
                    LOG.log(System.Logger.Level.DEBUG, "port_policy of instance {0} fetched from {1} (attempt {2})",
                            new Object[] {instanceId, address, attempt});
                } catch (PermanentFetchFailure e) {
                    LOG.log(System.Logger.Level.WARNING, "port_policy fetch for instance {0} from {1}: {2}; it stays fail-closed",
                            new Object[] {instanceId, address, e.getMessage()});
                }
                endRound(instanceId);
                return;
            }
            if (attempt >= fetch.maxRetries()) {
                LOG.log(System.Logger.Level.WARNING, "port_policy fetch for instance {0} from {1} giving up after {2} attempts: {3}",
                        new Object[] {instanceId, address, attempt + 1, describe(error)});
                endRound(instanceId);
                return;
            }
            LOG.log(System.Logger.Level.INFO, "port_policy fetch for instance {0} from {1} failed (attempt {2}): {3}",
                    new Object[] {instanceId, address, attempt, describe(error)});
            Duration next = backoff.multipliedBy(2).compareTo(fetch.backoffMax()) > 0
                    ? fetch.backoffMax() : backoff.multipliedBy(2);
            try {
                scheduler.schedule(() -> attempt(instanceId, attempt + 1, next), backoff.toMillis(),
                        TimeUnit.MILLISECONDS);
            } catch (RuntimeException rejected) { // shutting down
                endRound(instanceId);
            }
        });
    }

    private static String describe(Throwable t) {
        Throwable c = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
        return c instanceof java.util.concurrent.TimeoutException ? "Info() rpc timed out" : String.valueOf(c);
    }

    /**
     * The port policy in an agent's {@code tcb_info}: empty string → {@link PortPolicy#OPEN} (as upstream: the app
     * hides its tcb_info); otherwise a JSON object whose {@code app_compose} string hashes to {@code composeHash}
     * (when one is registered) and whose optional {@code port_policy} is read.
     */
    static PortPolicy parseTcbInfo(String tcbInfo, String composeHash) throws PermanentFetchFailure {
        if (tcbInfo == null || tcbInfo.isEmpty()) {
            return PortPolicy.OPEN;
        }
        JsonNode tcb;
        try {
            tcb = JSON.readTree(tcbInfo);
        } catch (java.io.IOException e) {
            throw new PermanentFetchFailure("tcb_info is not JSON");
        }
        if (tcb == null || !tcb.isObject()) {
            throw new PermanentFetchFailure("tcb_info is not a JSON object");
        }
        JsonNode raw = tcb.get("app_compose");
        if (raw == null || !raw.isTextual()) {
            throw new PermanentFetchFailure("tcb_info.app_compose is missing or not a string");
        }
        String compose = raw.asText();
        if (compose.length() > MAX_APP_COMPOSE) {
            throw new PermanentFetchFailure("tcb_info.app_compose longer than " + MAX_APP_COMPOSE);
        }
        if (!composeHash.isEmpty()) {
            String actual = sha256Hex(compose.getBytes(StandardCharsets.UTF_8));
            if (!actual.equals(composeHash)) {
                throw new PermanentFetchFailure("tcb_info.app_compose hashes to " + actual
                        + ", not the registered compose_hash " + composeHash);
            }
        }
        JsonNode app;
        try {
            app = JSON.readTree(compose);
        } catch (java.io.IOException e) {
            throw new PermanentFetchFailure("tcb_info.app_compose is not JSON");
        }
        if (app == null || !app.isObject()) {
            throw new PermanentFetchFailure("tcb_info.app_compose is not a JSON object");
        }
        JsonNode pp = app.get("port_policy");
        if (pp == null || pp.isNull()) {
            return PortPolicy.OPEN;
        }
        try {
            return PortPolicy.fromJson(pp, "app_compose.port_policy");
        } catch (RaException e) {
            throw new PermanentFetchFailure(e.getMessage());
        }
    }

    private static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
