package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void writesTheBytesAndLeavesOnlyTheTarget() throws IOException {
        Path target = dir.resolve("report.json");

        assertThat(AtomicFiles.write(target, "{}".getBytes(StandardCharsets.UTF_8))).isEqualTo(target);

        assertThat(target).hasContent("{}");
        assertThat(entries()).containsExactly(target);
    }

    @Test
    void replacesAnExistingFileWhole() throws IOException {
        Path target = dir.resolve("metrics.jsonl");
        Files.writeString(target, "a much longer old content\n");

        AtomicFiles.write(target, out -> out.write("new\n".getBytes(StandardCharsets.UTF_8)));

        assertThat(target).hasContent("new");
        assertThat(entries()).containsExactly(target);
    }

    @Test
    void theTargetKeepsItsOldContentWhileTheNewOneIsWritten() throws IOException {
        Path target = dir.resolve("clip.mp4");
        Files.writeString(target, "old");
        List<String> seenDuringWrite = new ArrayList<>();

        AtomicFiles.writeFile(target, tmp -> {
            Files.writeString(tmp, "half");
            seenDuringWrite.add(Files.readString(target));
            Files.writeString(tmp, "new");
        });

        assertThat(seenDuringWrite).containsExactly("old");
        assertThat(target).hasContent("new");
    }

    @Test
    void theTemporaryFileIsAHiddenSiblingThatTargetOfMapsBackToTheTarget() throws IOException {
        Path target = dir.resolve("loss.png");
        List<Path> temporaries = new ArrayList<>();

        AtomicFiles.writeFile(target, tmp -> {
            temporaries.add(tmp);
            assertThat(tmp).exists().isEmptyFile();
        });

        Path tmp = temporaries.get(0);
        assertThat(tmp.getParent()).isEqualTo(target.toAbsolutePath().getParent());
        assertThat(tmp.getFileName().toString()).startsWith(".loss.png.").endsWith(".tmp");
        assertThat(AtomicFiles.targetOf(tmp)).contains(target.toAbsolutePath());
        assertThat(AtomicFiles.targetOf(target)).isEmpty();
        assertThat(AtomicFiles.targetOf(dir.resolve(".loss.png.tmp"))).isEmpty();
    }

    @Test
    void aWriterThatThrowsAnIoExceptionLeavesTheTargetUntouchedAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("latents.safetensors");
        Files.writeString(target, "old");
        IOException failure = new IOException("No space left on device");

        assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
            out.write("partial".getBytes(StandardCharsets.UTF_8));
            throw failure;
        })).isSameAs(failure);

        assertThat(target).hasContent("old");
        assertThat(entries()).containsExactly(target);
    }

    @Test
    void aWriterThatThrowsAnUncheckedExceptionLeavesNoTargetAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("new.bin");
        UncheckedIOException failure = new UncheckedIOException(new IOException("encoder failed"));

        assertThatThrownBy(() -> AtomicFiles.writeFile(target, tmp -> {
            Files.writeString(tmp, "partial");
            throw failure;
        })).isSameAs(failure);

        assertThat(target).doesNotExist();
        assertThat(entries()).isEmpty();
    }

    @Test
    void aMissingFolderIsAnErrorNamingIt() {
        Path target = dir.resolve("missing").resolve("file.txt");

        assertThatThrownBy(() -> AtomicFiles.write(target, new byte[] {1}))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(dir.resolve("missing").toString());
    }

    private List<Path> entries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
