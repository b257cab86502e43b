package dev.atlas.dstack.testing;

/**
 * A dstack deployment on loopback for tests: mock PCCS, auth webhook, a bootstrapped KMS in its own simulated
 * CVM, and app CVMs that get their keys from it. (Skeleton; the lead fills it in on main.)
 */
public final class DstackTestbed {
    private DstackTestbed() {}
}
