package dev.atlas.dstack.vmm.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atlas.dstack.ra.prpc.PrpcException;

/**
 * Jazzer: the {@code CreateVm} request parser ({@code VmConfiguration} JSON) and the checks that need no state
 * (name label, AppCompose, compose hash) either accept or throw {@link PrpcException}; nothing else escapes.
 */
class CreateVmRequestFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] data) {
        JsonNode n;
        try {
            n = JSON.readTree(data);
        } catch (Exception e) {
            return; // not JSON: the dispatcher refuses it before the parser
        }
        if (n == null || !n.isObject()) {
            return;
        }
        try {
            VmRequests.VmConfiguration r = VmRequests.vmConfiguration(n);
            VmManager.composeHash(r);
            VmRequests.updateVm(n);
            VmRequests.status(n);
        } catch (PrpcException expected) {
            // refused with a message
        }
    }
}
