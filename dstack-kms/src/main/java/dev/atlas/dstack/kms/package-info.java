/**
 * The dstack KMS: {@code KmsConfig} ({@code kms.toml}) and {@code KmsServer} (the listeners of §2.1).
 * Implementation in {@code dev.atlas.dstack.kms.internal}.
 */
package dev.atlas.dstack.kms;
