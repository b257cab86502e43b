/** dstack attestation layer: event log, RTMR replay, compose hash, policy and the dstack TDX verifier. */
module dev.atlas.dstack {
    requires transitive dev.atlas.tdx;

    exports dev.atlas.dstack;
}
