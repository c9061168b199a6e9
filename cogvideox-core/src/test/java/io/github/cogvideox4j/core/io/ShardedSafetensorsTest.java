package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sharded checkpoints and folder lookup, on generated files. */
class ShardedSafetensorsTest {
    @TempDir
    Path dir;

    private void twoShards() throws IOException {
        SafetensorsWriter.write(dir.resolve("m-00001-of-00002.safetensors"),
                List.of(TensorData.f32("b", new long[] {1}, 2f), TensorData.f32("a", new long[] {2}, 1f, 1.5f)), null);
        SafetensorsWriter.write(dir.resolve("m-00002-of-00002.safetensors"),
                List.of(TensorData.bf16("c", new long[] {1}, 3f)), null);
    }

    private Path index(String weightMap) throws IOException {
        Path index = dir.resolve("m.safetensors.index.json");
        Files.writeString(index, "{\"metadata\": {\"total_size\": 14, \"format\": \"pt\"}, \"weight_map\": {"
                + weightMap + "}}");
        return index;
    }

    @Test
    void readsTensorsAcrossShardsInShardThenOffsetOrder() throws IOException {
        twoShards();
        Path index = index("\"c\": \"m-00002-of-00002.safetensors\", \"a\": \"m-00001-of-00002.safetensors\","
                + " \"b\": \"m-00001-of-00002.safetensors\"");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertThat(s.names()).containsExactly("a", "b", "c");
            assertThat(s.readFloats("a")).containsExactly(1f, 1.5f);
            assertThat(s.readFloats("c")).containsExactly(3f);
            assertThat(s.metadata()).containsEntry("total_size", "14").containsEntry("format", "pt");
            assertThat(s.fileOf("c")).isEqualTo(dir.resolve("m-00002-of-00002.safetensors").toAbsolutePath());
        }
    }

    @Test
    void rejectsIndexPointingAtAMissingShard() throws IOException {
        twoShards();
        Path index = index("\"a\": \"m-00001-of-00002.safetensors\", \"z\": \"m-00003-of-00003.safetensors\"");
        assertThatThrownBy(() -> ShardedSafetensors.open(index))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("tensor 'z'")
                .hasMessageContaining("\"m-00003-of-00003.safetensors\", which does not exist")
                .hasMessageContaining("m-00001-of-00002.safetensors, m-00002-of-00002.safetensors");
    }

    @Test
    void rejectsIndexMappingATensorToAShardThatLacksIt() throws IOException {
        twoShards();
        Path index = index("\"a\": \"m-00001-of-00002.safetensors\", \"c\": \"m-00001-of-00002.safetensors\"");
        assertThatThrownBy(() -> ShardedSafetensors.open(index))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("m-00001-of-00002.safetensors, tensor 'c'")
                .hasMessageContaining("the shard lacks it")
                .hasMessageContaining("a, b");
    }

    @Test
    void rejectsShardPathsLeavingTheFolder() throws IOException {
        twoShards();
        Path index = index("\"a\": \"../m-00001-of-00002.safetensors\"");
        assertThatThrownBy(() -> ShardedSafetensors.open(index))
                .isInstanceOf(SafetensorsFormatException.class).hasMessageContaining("must be a file inside");
    }

    @Test
    void rejectsIndexWithoutWeightMap() throws IOException {
        Path index = dir.resolve("m.safetensors.index.json");
        Files.writeString(index, "{\"metadata\": {}}");
        assertThatThrownBy(() -> ShardedSafetensors.open(index))
                .isInstanceOf(SafetensorsFormatException.class).hasMessageContaining("\"weight_map\"");
    }

    @Test
    void rejectsIndexWithDuplicateWeightMapKeys() throws IOException {
        twoShards();
        Path index = index("\"a\": \"m-00001-of-00002.safetensors\", \"a\": \"m-00002-of-00002.safetensors\"");
        assertThatThrownBy(() -> ShardedSafetensors.open(index))
                .isInstanceOf(SafetensorsFormatException.class).hasMessageContaining("Duplicate");
    }

    @Test
    void missingTensorNamesTheIndex() throws IOException {
        twoShards();
        Path index = index("\"a\": \"m-00001-of-00002.safetensors\"");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertThat(s.names()).containsExactly("a"); // "b" is in the shard but not in the weight map
            assertThatThrownBy(() -> s.info("b"))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining(index.toString())
                    .hasMessageContaining("tensor 'b'")
                    .hasMessageContaining("no such tensor");
        }
    }

    @Test
    void openModelWeightsPrefersTheSingleFile() throws IOException {
        twoShards();
        index("\"a\": \"m-00001-of-00002.safetensors\"");
        SafetensorsWriter.write(dir.resolve("m.safetensors"), List.of(TensorData.f32("x", new long[] {1}, 0f)),
                Map.of());
        try (TensorSource s = SafetensorsFiles.openModelWeights(dir, "m")) {
            assertThat(s).isInstanceOf(SafetensorsReader.class);
            assertThat(s.names()).containsExactly("x");
        }
    }

    @Test
    void openModelWeightsFallsBackToTheIndex() throws IOException {
        twoShards();
        index("\"a\": \"m-00001-of-00002.safetensors\"");
        try (TensorSource s = SafetensorsFiles.openModelWeights(dir, "m")) {
            assertThat(s).isInstanceOf(ShardedSafetensors.class);
        }
    }

    @Test
    void openModelWeightsListsTheFolderWhenNeitherExists() throws IOException {
        twoShards();
        assertThatThrownBy(() -> SafetensorsFiles.openModelWeights(dir, "diffusion_pytorch_model"))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("diffusion_pytorch_model.safetensors")
                .hasMessageContaining("diffusion_pytorch_model.safetensors.index.json")
                .hasMessageContaining("m-00001-of-00002.safetensors, m-00002-of-00002.safetensors");
    }
}
