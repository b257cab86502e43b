package dev.atlas.dstack.kms.internal;

import dev.atlas.dstack.ra.RaException;

import java.util.Map;

/** This KMS's own CVM: its guest agent ({@code DSTACK_AGENT_ADDRESS}, else the default sockets). */
public interface SelfAgent {
    /** {@code Attest(report_data)}: VersionedAttestation bytes; {@code AGENT_UNAVAILABLE} on failure. */
    byte[] attest(byte[] reportData64) throws RaException;

    /** The CVM's {@code vm_config} (from {@code Info}). */
    String vmConfig() throws RaException;

    /** Over dstack-guest's {@code DstackClient}, found as dstack's components find it. */
    static SelfAgent connect(Map<String, String> env) throws RaException {
        throw new UnsupportedOperationException("skeleton");
    }
}
