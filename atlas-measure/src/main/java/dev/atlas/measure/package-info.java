/**
 * Expected MRTD and RTMR0–2 of a dstack CVM from its image files and hardware configuration, and the lite
 * OS-image check. See {@code docs/atlas-measure.md}.
 */
package dev.atlas.measure;
