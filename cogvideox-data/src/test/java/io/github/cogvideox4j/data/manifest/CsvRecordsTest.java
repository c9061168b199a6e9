package io.github.cogvideox4j.data.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.junit.jupiter.api.Test;

class CsvRecordsTest {
    @Test
    void recordsRememberTheLineTheyStartOn() {
        List<CsvRecords.Row> rows = CsvRecords.parse("a,b\n\"x\ny\",z\nlast,row\n");

        assertThat(rows).extracting(CsvRecords.Row::line).containsExactly(1, 2, 4);
        assertThat(rows.get(1).fields()).containsExactly("x\ny", "z");
    }

    @Test
    void anUnclosedQuoteCarriesTheLineItOpenedOnAsData() {
        String text = "file_name,caption\n"
                + "a.mp4,\"two\nlines\"\n"
                + "b.mp4,\"never closed\nstill open\n";

        CsvRecords.MalformedCsvException e = catchThrowableOfType(() -> CsvRecords.parse(text),
                CsvRecords.MalformedCsvException.class);

        assertThat(e.line()).isEqualTo(4);
        assertThat(e.reason()).isEqualTo("quoted field not closed");
        assertThat(e).hasMessage("line 4: quoted field not closed");
    }
}
