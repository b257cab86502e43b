/** Implementation of the dstack gateway; not exported. */
package dev.atlas.dstack.gateway.internal;
