package dev.atlas.dstack.ra.prpc;

/** Helpers for handler authors: dstack's hex {@code bytes} and strict typed reads that name the field. */
public final class PrpcJson {
    private PrpcJson() {}
}
