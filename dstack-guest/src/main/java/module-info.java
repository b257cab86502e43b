/**
 * The dstack guest-agent SDK for Java apps inside a CVM: {@link dev.atlas.dstack.guest.DstackClient} speaks
 * pRPC JSON to the guest agent over its Unix socket or http(s), with typed records, strict bounded reads and
 * timeouts; {@code GetKey}'s signature chain is verified with {@code dstack-ra}. JDK + Jackson + Bouncy
 * Castle (through {@code dstack-ra}).
 */
module dev.atlas.dstack.guest {
    requires dev.atlas.protocol;
    requires com.fasterxml.jackson.databind;
    requires transitive dev.atlas.dstack.ra;

    exports dev.atlas.dstack.guest;
}
