package dev.atlas.dstack.vmm.internal;

import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;
import dev.atlas.dstack.ra.prpc.AdminAuth;
import dev.atlas.dstack.ra.prpc.PrpcDispatcher;
import dev.atlas.dstack.vmm.CvmBackend;
import dev.atlas.dstack.vmm.VmmConfig;
import dev.atlas.dstack.vmm.internal.web.Dashboard;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The running VMM behind {@link dev.atlas.dstack.vmm.VmmServer}: auth (§0.3, mandatory off-host), the host API
 * server, the VM manager (re-adopts what {@code run_path} holds), the pRPC service and the HTTP listener.
 */
public final class VmmRuntime implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.atlas.dstack.vmm");
    /** Timeout of the KMS calls of {@code GetAppEnvEncryptPubKey}. */
    static final Duration KMS_TIMEOUT = Duration.ofSeconds(30);

    private final VmmConfig config;
    private final CvmBackend backend;
    private final boolean ownsBackend;
    private final HostApiServer hostApi;
    private final VmManager vms;
    private final VmmHttp http;

    private VmmRuntime(VmmConfig config, CvmBackend backend, boolean ownsBackend, HostApiServer hostApi,
            VmManager vms, VmmHttp http) {
        this.config = config;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.hostApi = hostApi;
        this.vms = vms;
        this.http = http;
    }

    public static VmmRuntime start(VmmConfig config, CvmBackend given, Clock clock, Map<String, String> env)
            throws RaException {
        ListenAddress listen = ListenAddress.parse(config.address(), config.baseDir());
        AdminAuth auth = auth(config, listen);
        for (String w : config.warnings()) {
            LOG.log(System.Logger.Level.WARNING, "vmm.toml: {0}", w);
        }
        HostApiServer hostApi = null;
        CvmBackend backend = given;
        boolean owns = false;
        VmmHttp http = null;
        try {
            ForwardingListener events = new ForwardingListener(); // the manager is set as target below
            hostApi = HostApiServer.forConfig(config, VmmRpc.VERSION, events);
            if (backend == null) {
                backend = defaultBackend(config, clock, events);
                owns = true;
            }
            VmManager vms = new VmManager(config, backend, clock, hostApi);
            events.target = vms;
            vms.loadAll();
            PrpcDispatcher dispatcher = VmmRpc.dispatcher(vms, clock, KMS_TIMEOUT);
            http = new VmmHttp(listen, config.reuse(), auth, dispatcher, new VmLogs(vms), new Dashboard());
            LOG.log(System.Logger.Level.INFO, "dstack VMM listening on {0} with the {1} backend; run_path {2}, "
                    + "image path {3}, {4} VM(s) loaded, auth {5}", http.address(), backend.name(), config.runPath(),
                    config.image().path(), vms.ids().size(), config.auth().enabled() ? "on" : "off");
            return new VmmRuntime(config, backend, owns, hostApi, vms, http);
        } catch (RaException | RuntimeException e) {
            if (hostApi != null) {
                hostApi.close();
            }
            if (owns && backend != null) {
                backend.close();
            }
            throw e;
        }
    }

    /** The backend named by {@code [cvm] backend}. */
    static CvmBackend defaultBackend(VmmConfig config, Clock clock, HostApiListener events) throws RaException {
        return switch (config.cvm().backend()) {
            case VmmConfig.Cvm.BACKEND_SIMULATOR -> new SimulatorBackend(config);
            default -> QemuBackend.builder(config).clock(clock).events(events).build();
        };
    }

    /** §0.3: tokens or htpasswd when enabled; mandatory when the listener is reachable off-host. */
    static AdminAuth auth(VmmConfig config, ListenAddress listen) throws RaException {
        VmmConfig.Auth a = config.auth();
        if (!a.enabled()) {
            if (!listen.onHostOnly()) {
                throw new RaException(Reason.CONFIG_UNSUPPORTED, "auth.enabled",
                        "the VMM would listen on " + config.address() + ", reachable off-host, without "
                                + "authentication: set [auth] enabled = true with tokens or htpasswd_file, or bind "
                                + "address to a Unix socket or a loopback address");
            }
            LOG.log(System.Logger.Level.WARNING, "[auth] enabled = false: the VMM API on {0} is unauthenticated "
                    + "(reachable from this host only)", config.address());
            return AdminAuth.forVmm().insecureNoAuth(true).build();
        }
        AdminAuth.Builder b = AdminAuth.forVmm();
        List<String> tokens = a.tokens().stream().map(String::trim).filter(t -> !t.isEmpty()).toList();
        if (!tokens.isEmpty()) {
            b.tokens(tokens);
        }
        if (a.htpasswdFile().isPresent()) {
            try {
                b.htpasswdFile(a.htpasswdFile().get());
            } catch (IOException e) {
                throw new RaException(Reason.CONFIG_FILE_UNREADABLE, "auth.htpasswd_file",
                        a.htpasswdFile().get() + " cannot be read: " + e.getClass().getSimpleName());
            } catch (IllegalArgumentException e) {
                throw new RaException(Reason.CONFIG_INVALID, "auth.htpasswd_file", e.getMessage());
            }
        }
        try {
            return b.build();
        } catch (IllegalStateException e) {
            throw new RaException(Reason.CONFIG_INVALID, "auth.tokens",
                    "[auth] enabled = true but neither a non-empty token nor htpasswd_file is configured");
        }
    }

    /** Hands host-API notifications to the manager once it exists. */
    private static final class ForwardingListener implements HostApiListener {
        volatile HostApiListener target;

        @Override
        public void notify(String vmId, String event, String payload) {
            HostApiListener t = target;
            if (t != null) {
                t.notify(vmId, event, payload);
            }
        }
    }

    public SocketAddress address() {
        return http.address();
    }

    public Optional<String> httpBase() {
        return http.address() instanceof InetSocketAddress a
                ? Optional.of("http://" + (a.getAddress().getHostAddress().contains(":")
                        ? "[" + a.getAddress().getHostAddress() + "]" : a.getAddress().getHostAddress())
                        + ":" + a.getPort())
                : Optional.empty();
    }

    public CvmBackend backend() {
        return backend;
    }

    public VmmConfig config() {
        return config;
    }

    /** The VM manager (tests and the CLI). */
    public VmManager vms() {
        return vms;
    }

    @Override
    public void close() {
        http.close();
        hostApi.close();
        if (ownsBackend) {
            backend.close();
        }
    }
}
