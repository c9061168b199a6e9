package io.github.cogvideox4j.data.manifest;

import java.util.ArrayList;
import java.util.List;

/**
 * A small RFC 4180 reader: comma separated, double-quoted fields may hold commas, quotes ({@code ""}) and line
 * breaks. Each record remembers the line it starts on.
 */
final class CsvRecords {
    /** One record and its 1-based first line. */
    record Row(int line, List<String> fields) {}

    /** The text is not valid CSV; {@link #line()} is where the offending record or field starts. */
    static final class MalformedCsvException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        private final int line;
        private final String reason;

        MalformedCsvException(int line, String reason) {
            super("line " + line + ": " + reason);
            this.line = line;
            this.reason = reason;
        }

        /** @return the 1-based line the problem starts on */
        int line() {
            return line;
        }

        /** @return what is wrong, without the line (e.g. "quoted field not closed") */
        String reason() {
            return reason;
        }
    }

    private CsvRecords() {}

    /**
     * Splits a whole CSV text into records; blank lines are skipped.
     *
     * @param text the file content (a leading BOM is ignored)
     * @return the records in order
     * @throws MalformedCsvException if a quoted field is not closed (its line is the one the field opened on)
     */
    static List<Row> parse(String text) {
        List<Row> rows = new ArrayList<>();
        int i = text.startsWith("\uFEFF") ? 1 : 0;
        int line = 1;
        int n = text.length();
        while (i < n) {
            int start = line;
            List<String> fields = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean blank = true;
            boolean endOfRecord = false;
            while (i < n && !endOfRecord) {
                char c = text.charAt(i);
                if (c == '"' && field.length() == 0) {
                    int openLine = line;
                    i++;
                    boolean closed = false;
                    while (i < n) {
                        char q = text.charAt(i);
                        if (q == '"') {
                            if (i + 1 < n && text.charAt(i + 1) == '"') {
                                field.append('"');
                                i += 2;
                                continue;
                            }
                            i++;
                            closed = true;
                            break;
                        }
                        if (q == '\n') {
                            line++;
                        }
                        field.append(q);
                        i++;
                    }
                    if (!closed) {
                        throw new MalformedCsvException(openLine, "quoted field not closed");
                    }
                    blank = false;
                } else if (c == ',') {
                    fields.add(field.toString());
                    field.setLength(0);
                    blank = false;
                    i++;
                } else if (c == '\r' || c == '\n') {
                    if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                        i++;
                    }
                    i++;
                    line++;
                    endOfRecord = true;
                } else {
                    field.append(c);
                    if (!Character.isWhitespace(c)) {
                        blank = false;
                    }
                    i++;
                }
            }
            fields.add(field.toString());
            if (!blank) {
                rows.add(new Row(start, fields));
            }
        }
        return rows;
    }
}
