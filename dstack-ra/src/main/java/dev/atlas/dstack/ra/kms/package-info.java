/**
 * dstack's KMS on the wire: the messages of {@code kms_rpc.proto} as records with strict {@code fromJson} and
 * {@code toJson} (proto field names, bytes as hex), the {@link dev.atlas.dstack.ra.kms.Attester} of the caller's
 * own CVM, and {@link dev.atlas.dstack.ra.kms.KmsClient}, dstack-util's request path to a KMS (temp CA, RA-TLS
 * client certificate, server-certificate checks, {@code GetAppKey}).
 */
package dev.atlas.dstack.ra.kms;
