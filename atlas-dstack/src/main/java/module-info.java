/** dstack attestation layer: event log, RTMR replay, compose hash, policy and the dstack TDX verifier. */
module dev.atlas.dstack {
    requires transitive dev.atlas.tdx;

    exports dev.atlas.dstack;
    // SerdeJson's string escaping for dstack-ra's pRPC error bodies; not public API
    exports dev.atlas.dstack.internal to dev.atlas.dstack.ra;
}
