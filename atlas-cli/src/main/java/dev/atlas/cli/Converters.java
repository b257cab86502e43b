package dev.atlas.cli;

import picocli.CommandLine;

/** picocli converters ({@code --at}, URL options) and what the error handler needs from a parse result. */
final class Converters {
    private Converters() {}

    /**
     * The file arguments of the command that ran, value to option name ({@code FILE} for positionals), so that a
     * failure that lost the file name (a charset error) can still name it.
     */
    static java.util.Map<String, String> fileArguments(CommandLine.ParseResult p) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        if (p == null) {
            return m;
        }
        CommandLine.ParseResult leaf = p;
        while (leaf.hasSubcommand()) {
            leaf = leaf.subcommand();
        }
        for (CommandLine.Model.OptionSpec o : leaf.matchedOptions()) {
            if (o.type() == java.nio.file.Path.class && o.getValue() != null) {
                m.put(o.getValue().toString(), o.longestName());
            }
        }
        for (CommandLine.Model.PositionalParamSpec pp : leaf.matchedPositionals()) {
            if (pp.type() == java.nio.file.Path.class && pp.getValue() != null) {
                m.put(pp.getValue().toString(), pp.paramLabel());
            }
        }
        return m;
    }

    /** URL options: a parse error says what a URL looks like, without the JDK's exception text. */
    static java.net.URI uri(String s) {
        try {
            java.net.URI u = new java.net.URI(s);
            if (u.getScheme() == null || u.getHost() == null) {
                throw new CommandLine.TypeConversionException("'" + s + "' is not a URL with a scheme and a host: "
                        + "give a URL such as " + example(s));
            }
            return u;
        } catch (java.net.URISyntaxException e) {
            throw new CommandLine.TypeConversionException("'" + s + "' is not a URL (" + e.getReason() + " at index "
                    + e.getIndex() + "): give a URL such as " + example(s));
        }
    }

    private static String example(String s) {
        return s.matches("[A-Za-z0-9.\\[\\]:-]+:\\d+") ? "https://" + s + "/ (or http:// for a plain-HTTP upstream)"
                : "https://127.0.0.1:8443/ or http://127.0.0.1:8000";
    }

    /** Largest {@code --at} accepted: 9999-12-31T23:59:59Z (a millisecond value today is far beyond it). */
    static final long MAX_EPOCH_SECONDS = 253_402_300_799L;

    /** {@code --at}: seconds since the epoch, or an ISO-8601 instant such as {@code 2025-07-19T10:00:34Z}. */
    static java.time.Instant instant(String s) {
        String t = s.strip();
        if (t.matches("-?\\d{1,19}")) {
            long v;
            try {
                v = Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + s + "' is too large: give seconds since the epoch");
            }
            if (v < 0) {
                throw new CommandLine.TypeConversionException("'" + s + "' is before 1970: give seconds since the "
                        + "epoch (e.g. 1752919234) or an ISO-8601 time (e.g. 2025-07-19T10:00:34Z)");
            }
            if (v > MAX_EPOCH_SECONDS) {
                String ms = v / 1000 <= MAX_EPOCH_SECONDS
                        ? " (this looks like milliseconds: " + java.time.Instant.ofEpochMilli(v) + " would be --at "
                                + v / 1000 + ")" : "";
                throw new CommandLine.TypeConversionException("'" + s + "' is after the year 9999" + ms
                        + "; --at takes seconds since the epoch or an ISO-8601 time such as 2025-07-19T10:00:34Z");
            }
            return java.time.Instant.ofEpochSecond(v);
        }
        try {
            return java.time.Instant.parse(t);
        } catch (java.time.format.DateTimeParseException e) {
            throw new CommandLine.TypeConversionException("'" + s + "' is neither seconds since the epoch nor an "
                    + "ISO-8601 time such as 2025-07-19T10:00:34Z");
        }
    }
}
