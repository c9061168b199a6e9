package io.github.cogvideox4j.data.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each layout with a tiny generated folder (media files are placeholders: the manifest only checks existence). */
class DatasetManifestTest {
    @TempDir
    Path dir;

    private Path touch(String rel) throws IOException {
        Path p = dir.resolve(rel);
        Files.createDirectories(p.getParent());
        return Files.write(p, new byte[] {0});
    }

    private Path text(String rel, String content) throws IOException {
        Path p = dir.resolve(rel);
        Files.createDirectories(p.getParent());
        return Files.writeString(p, content, StandardCharsets.UTF_8);
    }

    // --- two-file ------------------------------------------------------------------------------------------

    @Test
    void readsTwoFileLayoutWithPathsRelativeToTheListFile() throws IOException {
        touch("videos/a.mp4");
        touch("videos/b.mp4");
        text("prompt.txt", "a cat\na dog\n");
        text("videos.txt", "videos/a.mp4\nvideos/b.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.layout()).isEqualTo(ManifestLayout.TWO_FILE);
        assertThat(m.problems()).isEmpty();
        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactly("a cat", "a dog");
        assertThat(m.entries().get(1).media()).isEqualTo(dir.resolve("videos/b.mp4").toAbsolutePath());
        assertThat(m.entries().get(1).line()).isEqualTo(2);
        assertThat(m.entries().get(0).stem()).isEqualTo("a");
    }

    @Test
    void acceptsFinetrainersFileNames() throws IOException {
        touch("v/a.mp4");
        text("captions.txt", "a cat\n");
        text("video.txt", "v/a.mp4\n");

        assertThat(DatasetManifest.read(dir).entries()).hasSize(1);
    }

    @Test
    void readsImagesTxtAsConditioningImages() throws IOException {
        touch("videos/a.mp4");
        touch("images/a.png");
        text("prompts.txt", "a cat\n");
        text("videos.txt", "videos/a.mp4\n");
        text("images.txt", "images/a.png\n");

        ManifestEntry e = DatasetManifest.read(dir).entries().get(0);

        assertThat(e.conditioningImage()).contains(dir.resolve("images/a.png").toAbsolutePath());
    }

    @Test
    void reportsAMissingVideoWithFileAndLine() throws IOException {
        touch("videos/a.mp4");
        text("prompt.txt", "a cat\na dog\n");
        Path list = text("videos.txt", "videos/a.mp4\nvideos/missing.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.entries()).hasSize(1);
        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MISSING_FILE);
            assertThat(p.file()).isEqualTo(list);
            assertThat(p.line()).isEqualTo(2);
            assertThat(p.detail()).contains("videos/missing.mp4");
        });
    }

    @Test
    void reportsAnEmptyCaptionAtTheCaptionFileLine() throws IOException {
        touch("videos/a.mp4");
        touch("videos/b.mp4");
        Path prompts = text("prompt.txt", "a cat\n   \n");
        text("videos.txt", "videos/a.mp4\nvideos/b.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.EMPTY_CAPTION);
            assertThat(p.file()).isEqualTo(prompts);
            assertThat(p.line()).isEqualTo(2);
        });
    }

    @Test
    void reportsADuplicateEntryNamingTheFirstDeclaration() throws IOException {
        touch("videos/a.mp4");
        text("prompt.txt", "a cat\nthe same cat\n");
        Path list = text("videos.txt", "videos/a.mp4\n./videos/../videos/a.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactly("a cat");
        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.DUPLICATE);
            assertThat(p.line()).isEqualTo(2);
            assertThat(p.detail()).contains(list + ":1");
        });
    }

    @Test
    void reportsACaptionWithoutVideoLine() throws IOException {
        touch("videos/a.mp4");
        text("prompt.txt", "a cat\na dog\n");
        Path list = text("videos.txt", "videos/a.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MALFORMED);
            assertThat(p.file()).isEqualTo(list);
            assertThat(p.line()).isEqualTo(2);
        });
    }

    @Test
    void requireNoProblemsListsEveryProblemWithFileAndLine() throws IOException {
        text("prompt.txt", "a\nb\n");
        Path list = text("videos.txt", "x.mp4\ny.mp4\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThatThrownBy(m::requireNoProblems).isInstanceOf(ManifestException.class)
                .hasMessageContaining(list + ":1: MISSING_FILE").hasMessageContaining(list + ":2: MISSING_FILE")
                .satisfies(e -> assertThat(((ManifestException) e).problems()).hasSize(2));
    }

    // --- caption pairs -------------------------------------------------------------------------------------

    @Test
    void readsCaptionFilePairs() throws IOException {
        touch("a.mp4");
        text("a.txt", "  a cat\nwalking  \n");
        touch("b.png");
        text("b.txt", "a still");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.layout()).isEqualTo(ManifestLayout.CAPTION_PAIRS);
        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactly("a cat\nwalking", "a still");
        assertThat(m.entries()).extracting(ManifestEntry::type).containsExactly(MediaType.VIDEO, MediaType.IMAGE);
        assertThat(m.entries().get(0).source()).isEqualTo(dir.resolve("a.txt"));
    }

    @Test
    void reportsPairsMissingEitherHalf() throws IOException {
        touch("a.mp4");
        text("a.txt", "a cat");
        touch("lonely.mp4");
        text("orphan.txt", "no media");
        text("empty.txt", "");
        touch("empty.mp4");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.entries()).hasSize(1);
        assertThat(m.problems()).extracting(p -> p.file().getFileName() + ":" + p.line() + ":" + p.kind())
                .containsExactlyInAnyOrder("lonely.txt:1:MISSING_FILE", "orphan.txt:1:MISSING_FILE",
                        "empty.txt:1:EMPTY_CAPTION");
    }

    // --- metadata ------------------------------------------------------------------------------------------

    @Test
    void readsMetadataJsonlAndReportsBadLines() throws IOException {
        touch("clips/a.mp4");
        touch("clips/b.mp4");
        Path meta = text("metadata.jsonl", "{\"file_name\": \"clips/a.mp4\", \"caption\": \"a cat\"}\n"
                + "\n"
                + "{\"file_name\": \"clips/b.mp4\", \"caption\": \n"
                + "{\"file_name\": \"clips/b.mp4\", \"text\": \"\"}\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.layout()).isEqualTo(ManifestLayout.METADATA);
        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactly("a cat");
        assertThat(m.problems()).extracting(p -> p.file() + ":" + p.line() + ":" + p.kind())
                .containsExactly(meta + ":3:MALFORMED", meta + ":4:EMPTY_CAPTION");
    }

    @Test
    void readsMetadataCsvWithQuotedMultiLineCaptionsAndTheirStartLines() throws IOException {
        touch("a.mp4");
        touch("b.mp4");
        Path csv = text("metadata.csv", "file_name,caption,other\n"
                + "a.mp4,\"a cat, on\ntwo lines\",x\n"
                + "b.mp4,\"say \"\"hi\"\"\",y\n"
                + "c.mp4,a ghost,z\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactly("a cat, on\ntwo lines", "say \"hi\"");
        assertThat(m.entries()).extracting(ManifestEntry::line).containsExactly(2, 4);
        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(csv);
            assertThat(p.line()).isEqualTo(5);
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MISSING_FILE);
        });
    }

    @Test
    void reportsAnUnclosedQuoteInMetadataCsvAtTheLineItOpensOn() throws IOException {
        touch("a.mp4");
        Path csv = text("metadata.csv", "file_name,caption\n"
                + "a.mp4,\"a cat\non two lines\"\n"
                + "b.mp4,\"an unclosed caption\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.entries()).isEmpty();
        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(csv);
            assertThat(p.line()).isEqualTo(4);
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MALFORMED);
            assertThat(p.detail()).isEqualTo("quoted field not closed");
        });
    }

    @Test
    void readsMetadataWithConfiguredColumns() throws IOException {
        touch("v/a.mp4");
        Path csv = text("train.csv", "video_path,description\nv/a.mp4,a cat\n");

        DatasetManifest m = DatasetManifest.read(csv, ManifestColumns.of("video_path", "description"));

        assertThat(m.entries()).singleElement().extracting(ManifestEntry::caption).isEqualTo("a cat");
    }

    @Test
    void reportsARecordWithoutTheFileColumn() throws IOException {
        Path meta = text("metadata.json", "[\n  {\"caption\": \"a cat\"}\n]\n");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(meta);
            assertThat(p.line()).isEqualTo(2);
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MALFORMED);
        });
    }

    // --- CogVideoX-Fun JSON --------------------------------------------------------------------------------

    @Test
    void readsTheFunJsonListWithTypesAndLines() throws IOException {
        touch("train/a.mp4");
        touch("train/b.jpg");
        Path json = text("data.json", "[\n"
                + "  {\"file_path\": \"train/a.mp4\", \"text\": \"a cat\", \"type\": \"video\"},\n"
                + "  {\"file_path\": \"train/b.jpg\", \"text\": \"a still\", \"type\": \"image\"},\n"
                + "  {\"file_path\": \"train/a.mp4\", \"text\": \"again\", \"type\": \"sound\"}\n"
                + "]\n");

        DatasetManifest m = DatasetManifest.read(json);

        assertThat(m.layout()).isEqualTo(ManifestLayout.FUN_JSON);
        assertThat(m.entries()).extracting(ManifestEntry::type).containsExactly(MediaType.VIDEO, MediaType.IMAGE);
        assertThat(m.entries()).extracting(ManifestEntry::line).containsExactly(2, 3);
        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.line()).isEqualTo(4);
            assertThat(p.detail()).contains("sound");
        });
    }

    @Test
    void resolvesFunPathsAgainstAnExplicitDataRoot() throws IOException {
        touch("root/train/a.mp4");
        Path json = text("meta/data.json", "[{\"file_path\": \"train/a.mp4\", \"text\": \"a cat\", \"type\": \"video\"}]");

        DatasetManifest m = DatasetManifest.readFunJson(json, dir.resolve("root"));

        assertThat(m.entries()).singleElement().extracting(ManifestEntry::media)
                .isEqualTo(dir.resolve("root/train/a.mp4").toAbsolutePath());
    }

    // --- SAT -----------------------------------------------------------------------------------------------

    @Test
    void readsSatVideosWithTheFirstLineOfTheirLabels() throws IOException {
        touch("videos/a.mp4");
        text("labels/a.txt", "a cat\nsecond line ignored\n");
        touch("part2/videos/b.mp4");
        text("part2/labels/b.txt", "a dog");

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.layout()).isEqualTo(ManifestLayout.SAT);
        assertThat(m.entries()).extracting(ManifestEntry::caption).containsExactlyInAnyOrder("a cat", "a dog");
    }

    @Test
    void reportsASatVideoWithoutLabel() throws IOException {
        touch("videos/a.mp4");
        Files.createDirectories(dir.resolve("labels"));

        DatasetManifest m = DatasetManifest.read(dir);

        assertThat(m.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(dir.resolve("labels/a.txt"));
            assertThat(p.kind()).isEqualTo(ManifestProblem.Kind.MISSING_FILE);
        });
    }

    @Test
    void rejectsAFolderWithoutARecognisedLayout() throws IOException {
        touch("notes.md");

        assertThatThrownBy(() -> DatasetManifest.read(dir)).isInstanceOf(ManifestException.class)
                .hasMessageContaining("no dataset layout recognised");
    }

    @Test
    void entriesAreImmutableValues() throws IOException {
        Path v = touch("a.mp4");

        assertThatThrownBy(() -> new ManifestEntry(v, " ", MediaType.VIDEO, Optional.empty(), v, 1))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
