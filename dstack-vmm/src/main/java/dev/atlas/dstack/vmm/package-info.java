/**
 * The dstack VMM: {@code VmmConfig} (dstack's {@code vmm.toml}), {@code VmmServer}, the {@code CvmBackend}
 * interface and its {@code qemu} and {@code simulator} implementations. Implementation in
 * {@code dev.atlas.dstack.vmm.internal}, not exported.
 */
package dev.atlas.dstack.vmm;
