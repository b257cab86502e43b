package dev.atlas.measure;

/** Skeleton: keeps the exported package non-empty until its owner adds the real types; delete it then. */
final class Skeleton {
    private Skeleton() {
    }
}
