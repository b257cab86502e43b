/** The KMS's implementation: not exported. */
package dev.atlas.dstack.kms.internal;
