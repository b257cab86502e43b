/**
 * dstack's pRPC binding: a transport-neutral server dispatcher ({@link dev.atlas.dstack.ra.prpc.PrpcDispatcher}),
 * its JDK {@code HttpServer} mount ({@link dev.atlas.dstack.ra.prpc.PrpcHttpHandler}), a JSON client
 * ({@link dev.atlas.dstack.ra.prpc.PrpcClient}) and the admin-API authentication
 * ({@link dev.atlas.dstack.ra.prpc.AdminAuth}). See {@code docs/prpc.md}.
 */
package dev.atlas.dstack.ra.prpc;
