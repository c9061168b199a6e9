package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.data.manifest.MediaType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProbeCacheTest {
    @TempDir
    Path dir;

    private final AtomicInteger calls = new AtomicInteger();
    private final MediaProber counting = file -> {
        calls.incrementAndGet();
        return new MediaInfo(MediaType.VIDEO, (int) Files.size(file), 8, 480, 720);
    };

    @Test
    void probesEachFileOnce() throws IOException {
        Path v = Files.write(dir.resolve("a.mp4"), new byte[10]);
        try (ProbeCache cache = ProbeCache.open(dir.resolve("probe.jsonl"), counting)) {
            MediaInfo first = cache.probe(v);
            MediaInfo second = cache.probe(v);

            assertThat(second).isEqualTo(first);
            assertThat(calls).hasValue(1);
            assertThat(cache.probesRun()).isEqualTo(1);
        }
    }

    @Test
    void survivesReopeningWithoutProbingAgain() throws IOException {
        Path v = Files.write(dir.resolve("a.mp4"), new byte[10]);
        Path store = dir.resolve("cache/probe.jsonl");
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            cache.probe(v);
            cache.contentHash(v);
        }
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            assertThat(cache.probe(v).frames()).isEqualTo(10);
            assertThat(cache.contentHash(v)).isEqualTo(ContentHash.sha256(v));
            assertThat(cache.probesRun()).isZero();
            assertThat(cache.hashesRun()).isZero();
        }
        assertThat(calls).hasValue(1);
    }

    @Test
    void probesAndHashesAgainWhenTheFileChanges() throws IOException {
        Path v = Files.write(dir.resolve("a.mp4"), new byte[10]);
        try (ProbeCache cache = ProbeCache.open(dir.resolve("probe.jsonl"), counting)) {
            String h1 = cache.contentHash(v);
            cache.probe(v);
            Files.write(v, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
            Files.setLastModifiedTime(v, FileTime.fromMillis(Files.getLastModifiedTime(v).toMillis() + 5000));

            assertThat(cache.probe(v).frames()).isEqualTo(13);
            assertThat(cache.contentHash(v)).isNotEqualTo(h1);
            assertThat(calls).hasValue(2);
        }
    }

    @Test
    void ignoresATornLastLine() throws IOException {
        Path v = Files.write(dir.resolve("a.mp4"), new byte[10]);
        Path store = dir.resolve("probe.jsonl");
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            cache.probe(v);
        }
        Files.writeString(store, "{\"path\": \"/x\", \"si", StandardOpenOption.APPEND);

        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            assertThat(cache.size()).isEqualTo(1);
            cache.probe(v);
            assertThat(cache.probesRun()).isZero();
        }
    }

    @Test
    void aJournalReadsTheSharedStoreButWritesOnlyToItself() throws IOException {
        Path a = Files.write(dir.resolve("a.mp4"), new byte[10]);
        Path b = Files.write(dir.resolve("b.mp4"), new byte[11]);
        Path store = dir.resolve("probe.jsonl");
        Path journal = dir.resolve("probe.rank-1.jsonl");
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            cache.probe(a);
        }
        byte[] before = Files.readAllBytes(store);

        try (ProbeCache cache = ProbeCache.openWithJournal(store, journal, counting)) {
            assertThat(cache.probe(a).frames()).isEqualTo(10);
            assertThat(cache.probe(b).frames()).isEqualTo(11);
            assertThat(cache.probesRun()).as("a came from the store").isEqualTo(1);
        }

        assertThat(Files.readAllBytes(store)).isEqualTo(before);
        assertThat(Files.readAllLines(journal)).hasSize(1).allMatch(l -> l.contains("b.mp4"));
    }

    @Test
    void mergingAJournalFoldsItsCompleteLinesIntoTheStoreAndDeletesIt() throws IOException {
        Path a = Files.write(dir.resolve("a.mp4"), new byte[10]);
        Path b = Files.write(dir.resolve("b.mp4"), new byte[11]);
        Path store = dir.resolve("probe.jsonl");
        Path journal = dir.resolve("probe.rank-1.jsonl");
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            cache.probe(a);
        }
        try (ProbeCache cache = ProbeCache.openWithJournal(store, journal, counting)) {
            cache.probe(b);
        }
        Files.writeString(store, "{\"path\": \"/torn", StandardOpenOption.APPEND);
        Files.writeString(journal, "{\"path\": \"/also-torn", StandardOpenOption.APPEND);

        assertThat(ProbeCache.mergeJournal(store, journal)).isEqualTo(1);

        assertThat(journal).doesNotExist();
        calls.set(0);
        try (ProbeCache cache = ProbeCache.open(store, counting)) {
            assertThat(cache.probe(a).frames()).isEqualTo(10);
            assertThat(cache.probe(b).frames()).isEqualTo(11);
            assertThat(cache.size()).isEqualTo(2);
        }
        assertThat(calls).hasValue(0);
    }

    @Test
    void mergingAMissingJournalChangesNothing() throws IOException {
        Path store = dir.resolve("probe.jsonl");

        assertThat(ProbeCache.mergeJournal(store, dir.resolve("none.jsonl"))).isZero();
        assertThat(store).doesNotExist();
    }
}
