package io.github.cogvideox4j.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;

class TorchScriptArchiveTest {
    private static Map<String, ZipEntry> entries(byte[] zip, Map<String, byte[]> contents) throws IOException {
        Map<String, ZipEntry> out = new LinkedHashMap<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                out.put(e.getName(), e);
                contents.put(e.getName(), in.readAllBytes());
            }
        }
        return out;
    }

    @Test
    void writesTheFourStoredEntriesWithVersion10() throws IOException {
        Map<String, byte[]> contents = new LinkedHashMap<>();
        Map<String, ZipEntry> entries = entries(TorchScriptArchive.build("M", "class M(Module):\n"), contents);
        assertThat(entries.keySet()).containsExactly(
                "archive/data.pkl", "archive/constants.pkl", "archive/version", "archive/code/__torch__.py");
        assertThat(entries.values()).allSatisfy(e -> assertThat(e.getMethod()).isEqualTo(ZipEntry.STORED));
        assertThat(new String(contents.get("archive/version"), StandardCharsets.US_ASCII)).isEqualTo("10\n");
        assertThat(new String(contents.get("archive/code/__torch__.py"), StandardCharsets.UTF_8))
                .isEqualTo("class M(Module):\n");
    }

    @Test
    void picklesTheModuleAsATrainingInstanceOfTheTorchClass() {
        byte[] expected = ("\u0080\u0002c__torch__\nKernels\n)\u0081}X\u0008\u0000\u0000\u0000training\u0088sb.")
                .getBytes(StandardCharsets.ISO_8859_1);
        assertThat(TorchScriptArchive.modulePickle("Kernels")).containsExactly(expected);
    }

    @Test
    void rejectsAClassNameThatIsNotAnIdentifier() {
        assertThatThrownBy(() -> TorchScriptArchive.build("bad name", ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad name");
    }
}
