package dev.atlas.dstack.ra.prpc;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One pRPC method. The dispatcher gives it the request message as a JSON object (an empty body or empty GET
 * query is {@code {}}, dstack's default message) and serializes what it returns with its {@code ObjectMapper}.
 */
@FunctionalInterface
public interface PrpcHandler {
    /**
     * Handles one call.
     *
     * @param request the request message, always a JSON object
     * @param context the method name and the caller's HTTP facts
     * @return the response message: a {@link JsonNode}, a record, a {@code Map}, ... (null means {@code {}})
     * @throws PrpcException an error for the caller: HTTP 400 {@code {"error": message}}
     */
    Object handle(JsonNode request, PrpcContext context) throws PrpcException;
}
