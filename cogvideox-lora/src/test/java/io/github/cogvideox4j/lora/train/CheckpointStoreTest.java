package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.EngineArrays;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Atomic save, keep-last-N, refusal of non-finite content, failure and crash recovery of {@link CheckpointStore}. */
class CheckpointStoreTest {
    @TempDir
    Path tmp;

    private static Map<String, NDArray> tensors(NDManager m, float scale) {
        Map<String, NDArray> t = new LinkedHashMap<>();
        // deliberately not in the writer's (dtype, name) order, to check that the save order comes back
        t.put("z.lora_A.weight", EngineArrays.create(m, new float[] {scale, 2 * scale, -3, 4, 5, 6}, new Shape(2, 3)));
        t.put("a.exp_avg", EngineArrays.create(m, new double[] {1e-30, -2.5}, new Shape(2)));
        t.put("m.rng", EngineArrays.create(m, new long[] {Long.MAX_VALUE, -7}, new Shape(2)));
        return t;
    }

    private static ObjectNode state(long step) {
        ObjectNode s = JsonNodeFactory.instance.objectNode();
        s.put("global_step", step);
        s.put("lr", 1e-4);
        s.putObject("sampler").put("epoch", 1).put("position", 3);
        s.set("provenance", Provenance.current(Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC))
                .toJson());
        return s;
    }

    private static List<String> entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void roundTripKeepsValuesTypesOrderAndState() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp.resolve("ckpt"), 3);
        try (NDManager m = NDManager.newBaseManager()) {
            Path saved = store.save(12, tensors(m, 1.5f), state(12));
            assertThat(saved).isEqualTo(tmp.resolve("ckpt/checkpoint-000000012").toAbsolutePath());
            assertThat(entries(saved)).containsExactly("manifest.json", "state.json", "tensors.safetensors");

            Optional<Checkpoint> back = store.latest(m);
            assertThat(back).isPresent();
            Checkpoint c = back.get();
            assertThat(c.step()).isEqualTo(12);
            assertThat(c.dir()).isEqualTo(saved);
            assertThat(c.tensors().keySet()).containsExactly("z.lora_A.weight", "a.exp_avg", "m.rng");
            NDArray w = c.tensors().get("z.lora_A.weight");
            assertThat(w.getShape()).isEqualTo(new Shape(2, 3));
            assertThat(w.toFloatArray()).containsExactly(1.5f, 3f, -3, 4, 5, 6);
            assertThat(c.tensors().get("a.exp_avg").getDataType()).isEqualTo(DataType.FLOAT64);
            assertThat(c.tensors().get("a.exp_avg").toDoubleArray()).containsExactly(1e-30, -2.5);
            assertThat(c.tensors().get("m.rng").toLongArray()).containsExactly(Long.MAX_VALUE, -7);
            assertThat(c.state().toString()).isEqualTo(state(12).toString());
            Provenance p = Provenance.fromJson(c.state().get("provenance"));
            assertThat(p.timestamp()).isEqualTo(Instant.parse("2026-01-02T03:04:05Z"));
            assertThat(p.djlVersion()).isEqualTo("0.36.0");
        }
    }

    @Test
    void keepsOnlyTheNewestKeepLastCheckpoints() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 2);
        try (NDManager m = NDManager.newBaseManager()) {
            for (long step : new long[] {5, 10, 15, 20}) {
                store.save(step, tensors(m, step), state(step));
            }
            assertThat(store.list()).extracting(p -> p.getFileName().toString())
                    .containsExactly("checkpoint-000000015", "checkpoint-000000020");
            assertThat(entries(tmp)).containsExactly("checkpoint-000000015", "checkpoint-000000020");
            assertThat(store.latest(m).orElseThrow().tensors().get("z.lora_A.weight").toFloatArray()[0])
                    .isEqualTo(20f);
        }
    }

    @Test
    void ordersCheckpointsByStepNumberNotByName() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(999_999_999L, tensors(m, 1), state(1));
            store.save(1_000_000_000L, tensors(m, 2), state(2)); // ten digits: sorts before nine digits by name
            assertThat(store.latest(m).orElseThrow().step()).isEqualTo(1_000_000_000L);
        }
    }

    @Test
    void refusesNonFiniteTensorNamingItAndWritesNothing() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 2);
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = tensors(m, 1);
            t.put("blocks.1.lora_B.weight",
                    EngineArrays.create(m, new float[] {0, Float.NaN, 1, Float.POSITIVE_INFINITY}, new Shape(2, 2)));
            assertThatThrownBy(() -> store.save(3, t, state(3)))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("blocks.1.lora_B.weight")
                    .hasMessageContaining("2 NaN or infinite values");
            assertThat(entries(tmp)).isEmpty();
        }
    }

    @Test
    void refusesNonFiniteFloat16Tensor() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 2);
        try (NDManager m = NDManager.newBaseManager();
                NDArray f = EngineArrays.create(m, new float[] {1, Float.NEGATIVE_INFINITY}, new Shape(2))) {
            NDArray half = f.toType(DataType.FLOAT16, false);
            assertThatThrownBy(() -> store.save(3, Map.of("h", half), state(3)))
                    .isInstanceOf(CheckpointException.class).hasMessageContaining("'h'");
            assertThat(entries(tmp)).isEmpty();
        }
    }

    @Test
    void refusesNonFiniteStateValueNamingItsKey() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 2);
        ObjectNode s = state(4);
        s.putObject("schedule").putArray("history").add(0.5).add(Double.NaN);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> store.save(4, tensors(m, 1), s))
                    .isInstanceOf(CheckpointException.class).hasMessageContaining("schedule.history[1]");
        }
        assertThat(entries(tmp)).isEmpty();
    }

    @Test
    void diskFullWhileSavingLeavesThePreviousCheckpointIntactAndSaysWhy() throws IOException {
        Path dir = tmp.resolve("ckpt");
        CheckpointStore good = CheckpointStore.open(dir, 2);
        CheckpointStore.Sink full = new CheckpointStore.Sink() {
            @Override
            public void writeTensors(Path file, Map<String, NDArray> t, Map<String, String> md) throws IOException {
                Files.write(file, new byte[100]); // a partial file, then the disk is full
                throw new java.nio.file.FileSystemException(file.toString(), null, "No space left on device");
            }

            @Override
            public void writeBytes(Path file, byte[] bytes) throws IOException {
                CheckpointStore.DISK.writeBytes(file, bytes);
            }
        };
        CheckpointStore failing = CheckpointStore.open(dir, 2, full);
        try (NDManager m = NDManager.newBaseManager()) {
            good.save(10, tensors(m, 10), state(10));
            assertThatThrownBy(() -> failing.save(20, tensors(m, 20), state(20)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("step 20")
                    .hasMessageContaining("No space left on device")
                    .hasMessageContaining(TensorsFile.NAME)
                    .hasMessageContaining("intact");
            assertThat(entries(dir)).containsExactly("checkpoint-000000010");
            Checkpoint c = good.latest(m).orElseThrow();
            assertThat(c.step()).isEqualTo(10);
            assertThat(c.tensors().get("z.lora_A.weight").toFloatArray()[0]).isEqualTo(10f);
        }
    }

    @Test
    void failedReplacementOfTheSameStepRestoresTheOldCheckpoint() throws IOException {
        CheckpointStore.Sink stateFails = new CheckpointStore.Sink() {
            @Override
            public void writeTensors(Path file, Map<String, NDArray> t, Map<String, String> md) throws IOException {
                CheckpointStore.DISK.writeTensors(file, t, md);
            }

            @Override
            public void writeBytes(Path file, byte[] bytes) throws IOException {
                throw new IOException("Input/output error");
            }
        };
        CheckpointStore good = CheckpointStore.open(tmp, 2);
        try (NDManager m = NDManager.newBaseManager()) {
            good.save(7, tensors(m, 7), state(7));
            assertThatThrownBy(() -> CheckpointStore.open(tmp, 2, stateFails).save(7, tensors(m, 8), state(8)))
                    .isInstanceOf(IOException.class).hasMessageContaining("Input/output error");
            assertThat(entries(tmp)).containsExactly("checkpoint-000000007");
            assertThat(good.latest(m).orElseThrow().state().get("global_step").asLong()).isEqualTo(7);
        }
    }

    @Test
    void openUnderARegularFileFailsNamingThePath() throws IOException {
        Path file = Files.writeString(tmp.resolve("not-a-folder"), "x");
        assertThatThrownBy(() -> CheckpointStore.open(file.resolve("checkpoints"), 2))
                .isInstanceOf(IOException.class).hasMessageContaining(file.toString());
    }

    @Test
    void latestIgnoresTheTemporaryFolderOfACrashedSave() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 3);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(10, tensors(m, 10), state(10));
            // a crash mid-save of step 20: its temporary folder holds a complete-looking set of files
            Path crashed = Files.createDirectory(tmp.resolve(".checkpoint-000000020.tmp-1234"));
            Files.copy(tmp.resolve("checkpoint-000000010/tensors.safetensors"), crashed.resolve("tensors.safetensors"));
            Files.writeString(crashed.resolve("state.json"), "{\"global_");
            assertThat(store.latest(m).orElseThrow().step()).isEqualTo(10);
            assertThat(store.list()).hasSize(1);
            // and the next process deletes it
            CheckpointStore.open(tmp, 3);
            assertThat(entries(tmp)).containsExactly("checkpoint-000000010");
        }
    }

    @Test
    void latestSkipsIncompleteOrCorruptCheckpointsForTheNextOlderOne() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(10, tensors(m, 10), state(10));
            Path incomplete = Files.createDirectory(tmp.resolve(CheckpointStore.folderName(30)));
            Files.writeString(incomplete.resolve("state.json"), "{}"); // no tensor file
            Path corrupt = store.save(20, tensors(m, 20), state(20));
            Files.write(corrupt.resolve("tensors.safetensors"), new byte[] {1, 2, 3});
            assertThat(store.list()).extracting(p -> CheckpointStore.stepOf(p).orElseThrow()).containsExactly(10L, 20L);
            assertThat(store.latest(m).orElseThrow().step()).isEqualTo(10);
        }
    }

    @Test
    void latestFailsListingEveryCheckpointFolderWhenNoneCanBeRead() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            Path corrupt = store.save(10, tensors(m, 10), state(10));
            Files.write(corrupt.resolve("tensors.safetensors"), new byte[] {1, 2, 3});
            Path noManifest = store.save(20, tensors(m, 20), state(20));
            Files.delete(noManifest.resolve(CheckpointStore.MANIFEST_FILE));
            Path badState = store.save(30, tensors(m, 30), state(30));
            Files.writeString(badState.resolve(CheckpointStore.STATE_FILE), "{\"global_");
            assertThatThrownBy(() -> store.latest(m)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(tmp.toString() + ": no readable checkpoint")
                    .hasMessageContaining("3 checkpoint folders")
                    .hasMessageContaining("  - checkpoint-000000030: ")
                    .hasMessageContaining("state.json: not valid JSON")
                    .hasMessageContaining("  - checkpoint-000000020: ").hasMessageContaining("no manifest.json")
                    .hasMessageContaining("  - checkpoint-000000010: ")
                    .hasMessageContaining("--fresh");
        }
    }

    @Test
    void aTruncatedCheckpointFailsNamingItsFileAndLatestFallsBackToTheEarlierCheckpointUnchanged()
            throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            Path earlier = store.save(10, tensors(m, 10), state(10));
            byte[] earlierTensors = Files.readAllBytes(earlier.resolve(CheckpointStore.TENSORS_FILE));
            Path truncated = store.save(20, tensors(m, 20), state(20)).resolve(CheckpointStore.TENSORS_FILE);
            byte[] bytes = Files.readAllBytes(truncated);
            Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 7)); // the write cut short

            assertThatThrownBy(() -> CheckpointStore.read(truncated.getParent(), m))
                    .isInstanceOf(io.github.cogvideox4j.core.io.SafetensorsFormatException.class)
                    .hasMessageStartingWith("safetensors file " + truncated);
            Checkpoint latest = store.latest(m).orElseThrow();
            assertThat(latest.step()).isEqualTo(10);
            assertThat(latest.state().get("global_step").asLong()).isEqualTo(10);
            Map<String, NDArray> expected = tensors(m, 10);
            assertThat(latest.tensors().keySet()).containsExactlyElementsOf(expected.keySet());
            assertThat(latest.tensors().get("z.lora_A.weight").toFloatArray())
                    .containsExactly(expected.get("z.lora_A.weight").toFloatArray());
            assertThat(Files.readAllBytes(earlier.resolve(CheckpointStore.TENSORS_FILE))).isEqualTo(earlierTensors);
            assertThat(Files.exists(truncated)).as("the damaged checkpoint is left for inspection").isTrue();
        }
    }

    @Test
    void latestSkipsACorruptNewestCheckpointWithAWarningNamingItAndTheReason() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        Logger logger = (Logger) LoggerFactory.getLogger(CheckpointStore.class);
        log.start();
        logger.addAppender(log);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(10, tensors(m, 10), state(10));
            Path corrupt = store.save(20, tensors(m, 20), state(20));
            Files.write(corrupt.resolve("tensors.safetensors"), new byte[] {1, 2, 3});
            assertThat(store.latest(m).orElseThrow().step()).isEqualTo(10);
        } finally {
            logger.detachAppender(log);
        }
        assertThat(log.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
                .extracting(ILoggingEvent::getFormattedMessage).asString()
                .contains("skipping unreadable checkpoint " + folder(tmp, 20))
                .contains("tensors.safetensors")
                .contains("resuming from the newest readable one, checkpoint-000000010");
    }

    private static String folder(Path dir, long step) {
        return dir.toAbsolutePath().normalize().resolve(CheckpointStore.folderName(step)).toString();
    }

    @Test
    void aFolderWithoutItsManifestIsNotACheckpoint() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(10, tensors(m, 10), state(10));
            Path half = store.save(20, tensors(m, 20), state(20));
            Files.delete(half.resolve(CheckpointStore.MANIFEST_FILE));   // every other file written, the manifest not
            assertThat(store.list()).extracting(p -> CheckpointStore.stepOf(p).orElseThrow()).containsExactly(10L);
            assertThat(store.latest(m).orElseThrow().step()).isEqualTo(10);
            assertThatThrownBy(() -> CheckpointStore.read(half, m)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("no manifest.json");
        }
    }

    @Test
    void aManifestNamingAMissingFileIsNotACheckpoint() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        try (NDManager m = NDManager.newBaseManager()) {
            store.save(10, tensors(m, 10), state(10));
            Path incomplete = store.save(20, tensors(m, 20), state(20));
            ObjectNode manifest = CheckpointStore.readManifest(incomplete);
            manifest.withArray("files").add(CheckpointStore.shardFileName(1, 2));
            Files.writeString(incomplete.resolve(CheckpointStore.MANIFEST_FILE), manifest.toString());
            assertThat(store.list()).extracting(p -> CheckpointStore.stepOf(p).orElseThrow()).containsExactly(10L);
        }
    }

    @Test
    void theManifestRecordsTheWorldSizeTheFilesAndTheCallersFields() throws IOException {
        CheckpointStore store = CheckpointStore.open(tmp, 5);
        ObjectNode fields = JsonNodeFactory.instance.objectNode().put("global_batch_size", 4);
        try (NDManager m = NDManager.newBaseManager()) {
            Path saved = store.save(io.github.cogvideox4j.core.dist.ProcessGroup.single(), 3, tensors(m, 3), state(3),
                    Map.of("exp_avg.bucket-00000", EngineArrays.create(m, new float[] {1, 2}, new Shape(2))), fields);
            ObjectNode manifest = store.latest(m).orElseThrow().manifest();
            assertThat(manifest.get("format").asText()).isEqualTo(CheckpointStore.FORMAT);
            assertThat(manifest.get("world_size").asInt()).isEqualTo(1);
            assertThat(manifest.get("global_batch_size").asInt()).isEqualTo(4);
            assertThat(manifest.get("files")).extracting(com.fasterxml.jackson.databind.JsonNode::asText)
                    .containsExactly("tensors.safetensors", "state.json", "optimizer-rank-00000-of-00001.safetensors");
            assertThat(entries(saved)).contains("optimizer-rank-00000-of-00001.safetensors");
        }
    }

    @Test
    void latestOfAnEmptyFolderIsEmpty() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(CheckpointStore.open(tmp, 1).latest(m)).isEmpty();
        }
    }

    /** The tensor file name, as the failure message must name the failing path. */
    private static final class TensorsFile {
        static final String NAME = CheckpointStore.TENSORS_FILE;
    }
}
