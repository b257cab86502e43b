/**
 * Expected dstack bootchain measurements from image files ({@code ../shared/specs/dstack-platform.md}
 * §6.5–§6.7): MRTD from the TDVF metadata, RTMR1 and RTMR2 from the kernel, command line and initrd, the
 * fixed RTMR0 parts, and the lite OS-image check that replays the logged ACPI digests against a quote.
 * JDK + Jackson (through {@code atlas-dstack}), JDK 17+.
 */
module dev.atlas.measure {
    requires transitive dev.atlas.dstack;
    requires com.fasterxml.jackson.databind;

    exports dev.atlas.measure;
}
