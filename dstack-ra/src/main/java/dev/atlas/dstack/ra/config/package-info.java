/**
 * Reading the dstack servers' config files ({@code kms.toml}, {@code gateway.toml}, {@code vmm.toml}):
 * {@link dev.atlas.dstack.ra.config.ConfigTree} gives typed, dotted-key reads of a document each server has parsed
 * into a Jackson tree (the TOML parsing stays in the server), dstack's duration and size strings, the shipped
 * defaults laid under the operator's file, and the names of keys nobody read. Refusals are
 * {@link dev.atlas.dstack.ra.RaException}s ({@code CONFIG_INVALID}, {@code CONFIG_UNSUPPORTED}) naming the dotted
 * key and the file, never a value.
 */
package dev.atlas.dstack.ra.config;
