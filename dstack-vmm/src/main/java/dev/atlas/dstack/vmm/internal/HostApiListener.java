package dev.atlas.dstack.vmm.internal;

/**
 * Receives the guests' {@code HostApi.Notify} calls (boot progress, boot errors, shutdown progress), one call per
 * notification, already attributed to the VM whose host-API socket carried it. issue20-core implements it and
 * turns the events into {@code VmInfo.events}, {@code boot_progress}, {@code boot_error}.
 *
 * <p>Called on a worker thread of {@link HostApiServer}, never on a Netty event loop; it should return quickly
 * and must not throw (an exception is logged and answered to the guest as a pRPC error).
 */
@FunctionalInterface
public interface HostApiListener {
    /**
     * One notification.
     *
     * @param vmId the VM id the socket was bound for ({@link HostApiServer#bind})
     * @param event the guest's {@code Notification.event} (upstream: {@code boot.progress}, {@code boot.error},
     *     {@code shutdown.progress}, {@code instance.info}, ...), as sent
     * @param payload the guest's {@code Notification.payload}, as sent
     */
    void notify(String vmId, String event, String payload);
}
