package dev.atlas.dstack.guest;

/** {@code Version}: {@code {version, rev}} (dstack OS 0.5.7 and later). */
public record AgentVersion(String version, String rev) {}
