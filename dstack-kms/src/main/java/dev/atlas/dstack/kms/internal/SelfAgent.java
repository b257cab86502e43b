package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.guest.DstackClient;
import dev.atlas.dstack.guest.DstackGuestException;
import dev.atlas.dstack.guest.Endpoint;
import dev.atlas.dstack.ra.RaException;
import dev.atlas.dstack.ra.RaException.Reason;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * This KMS's own CVM: its guest agent, found as dstack's Rust components find it ({@code dstack-types}
 * {@code dstack_agent_address}): {@code DSTACK_AGENT_ADDRESS} when set, else the first of
 * {@code /var/run/dstack/dstack.sock} and {@code /var/run/dstack.sock} that exists, else the first.
 */
public interface SelfAgent {
    /** The environment variable read first. */
    String AGENT_ADDRESS_ENV = Endpoint.AGENT_ADDRESS_ENV;
    /** dstack-types' socket paths, in order. */
    List<Path> SOCKET_PATHS = List.of(Path.of("/var/run/dstack/dstack.sock"), Path.of("/var/run/dstack.sock"));

    /**
     * {@code Attest(report_data)}: VersionedAttestation bytes.
     *
     * @param reportData64 at most 64 bytes (the agent zero-pads)
     * @throws RaException {@code AGENT_UNAVAILABLE} when the agent cannot be reached or answers with an error
     */
    byte[] attest(byte[] reportData64) throws RaException;

    /** The CVM's {@code vm_config} (from {@code Info}); {@code AGENT_UNAVAILABLE} on failure. */
    String vmConfig() throws RaException;

    /** Where the agent is, for messages. */
    default String describe() {
        return toString();
    }

    /** Over dstack-guest's {@link DstackClient} at the address dstack's components would use. */
    static SelfAgent connect(Map<String, String> env) throws RaException {
        Objects.requireNonNull(env, "env");
        String explicit = env.get(AGENT_ADDRESS_ENV);
        String endpoint;
        if (explicit != null && !explicit.isEmpty()) {
            endpoint = explicit;
        } else {
            endpoint = SOCKET_PATHS.stream().filter(Files::exists).findFirst().orElse(SOCKET_PATHS.get(0))
                    .toString();
        }
        DstackClient client;
        try {
            client = DstackClient.builder().environment(Map.of()).endpoint(endpoint).build();
        } catch (IllegalArgumentException e) {
            throw new RaException(Reason.CONFIG_INVALID, AGENT_ADDRESS_ENV, "not a guest agent address: "
                    + e.getMessage());
        }
        return of(client);
    }

    /** Over a given client. */
    static SelfAgent of(DstackClient client) {
        Objects.requireNonNull(client, "client");
        return new SelfAgent() {
            @Override
            public byte[] attest(byte[] reportData64) throws RaException {
                if (reportData64.length > 64) {
                    throw new RaException(Reason.INVALID_ARGUMENT, "report_data", "at most 64 bytes, got "
                            + reportData64.length);
                }
                try {
                    return client.attest(reportData64);
                } catch (DstackGuestException e) {
                    throw new RaException(Reason.AGENT_UNAVAILABLE, "Attest", "the KMS's own guest agent at "
                            + client.endpoint() + " failed: " + e.reason(), e);
                }
            }

            @Override
            public String vmConfig() throws RaException {
                try {
                    return client.info().vmConfig();
                } catch (DstackGuestException e) {
                    throw new RaException(Reason.AGENT_UNAVAILABLE, "Info", "the KMS's own guest agent at "
                            + client.endpoint() + " failed: " + e.reason(), e);
                }
            }

            @Override
            public String toString() {
                return "guest agent " + client.endpoint();
            }
        };
    }
}
