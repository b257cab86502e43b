package dev.atlas.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Human output of the dstack commands ({@code guest}, {@code ratls}, {@code env}): short aligned
 * {@code label  value} lines, and the one-line JSON object printed for {@code --json}.
 */
final class Text {
    private Text() {}

    /** Aligned {@code label  value} lines, printed in the order added. */
    static final class Lines {
        private final List<String[]> rows = new ArrayList<>();

        Lines add(String label, Object value) {
            rows.add(new String[] {label, value == null || String.valueOf(value).isEmpty() ? "-" : String.valueOf(value)});
            return this;
        }

        void print(PrintWriter out, String indent) {
            int w = 0;
            for (String[] r : rows) {
                w = Math.max(w, r[0].length());
            }
            for (String[] r : rows) {
                out.println(indent + r[0] + " ".repeat(w - r[0].length() + 2) + r[1]);
            }
        }

        void print(PrintWriter out) {
            print(out, "");
        }
    }

    /** A new JSON object for {@code --json} output. */
    static ObjectNode object() {
        return QuoteCommand.JSON.createObjectNode();
    }
}
