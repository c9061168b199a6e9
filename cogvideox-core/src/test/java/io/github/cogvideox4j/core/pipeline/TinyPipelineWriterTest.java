package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.ShardedSafetensors;
import io.github.cogvideox4j.core.model.ParameterLayout;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.text.SentencePieceModelWriter;
import io.github.cogvideox4j.core.text.SentencePieceModelWriter.Piece;
import io.github.cogvideox4j.core.text.T5Tokenizer;
import io.github.cogvideox4j.core.text.TokenizedPrompt;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiny pipeline folder written by our own code: it loads through the normal loaders and generates, its
 * tokenizer (a SentencePiece model we serialise) tokenizes captions into the pieces we wrote, its transformer is BF16
 * in shards with a valid index, its configs are those of the golden tiny pipeline, and a seed fixes every byte.
 */
class TinyPipelineWriterTest {
    private static final List<String> CAPTIONS = List.of("a red square moving to the right",
            "a blue square moving down");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    private static Path pipeline;

    @BeforeAll
    static void writePipeline() throws IOException {
        pipeline = TinyPipelineWriter.write(tmp.resolve("tiny"), 7, CAPTIONS);
    }

    @Test
    void folderLoadsThroughThePipelineLoaderAndGeneratesOneStepFromATextPrompt() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(pipeline, manager)) {
            assertThat(pipe.className()).isEqualTo("CogVideoXPipeline");
            assertThat(pipe.transformer().config()).isEqualTo(TinyPipelineWriter.transformerConfig());
            assertThat(pipe.vae().config()).isEqualTo(TinyPipelineWriter.vaeConfig());
            GenerationRequest request = GenerationRequest.builder().prompt(CAPTIONS.get(0)).height(32).width(48)
                    .numFrames(9).inferenceSteps(1).seed(3).build();
            NDArray video = pipe.generate(request);
            assertThat(video.getShape()).isEqualTo(new Shape(1, 9, 3, 32, 48));
            float[] values = video.toFloatArray();
            for (float v : values) {
                assertThat(v).isBetween(0f, 1f);
            }
        }
    }

    @Test
    void tokenizerTurnsEachCaptionWordIntoItsOwnPieceThenEos() throws Exception {
        List<Piece> pieces = SentencePieceModelWriter.t5Vocabulary(CAPTIONS);
        List<String> texts = pieces.stream().map(Piece::text).toList();
        String caption = CAPTIONS.get(0);
        List<Long> expected = new ArrayList<>();
        for (String word : caption.split(" ")) {
            expected.add((long) texts.indexOf(SentencePieceModelWriter.WORD_START + word));
        }
        assertThat(expected).doesNotContain(-1L);
        expected.add((long) T5Tokenizer.EOS_ID);
        try (T5Tokenizer tok = T5Tokenizer.load(pipeline.resolve("tokenizer"))) {
            assertThat(tok.pieceCount()).isEqualTo(pieces.size());
            TokenizedPrompt t = tok.encode(caption, T5Tokenizer.COGVIDEOX_MAX_LENGTH);
            assertThat(t.inputIds()).startsWith(expected.stream().mapToLong(Long::longValue).toArray());
            assertThat(java.util.Arrays.copyOfRange(t.inputIds(), expected.size(), t.inputIds().length))
                    .containsOnly((long) T5Tokenizer.PAD_ID);
        }
    }

    @Test
    void tokenizerSpellsOtherWordsInCharactersAndMarksUnknownCharacters() throws Exception {
        List<String> texts = SentencePieceModelWriter.t5Vocabulary(CAPTIONS).stream().map(Piece::text).toList();
        int[] expected = {texts.indexOf(SentencePieceModelWriter.WORD_START), texts.indexOf("c"),
            texts.indexOf("o"), texts.indexOf("w"), texts.indexOf(SentencePieceModelWriter.WORD_START),
            T5Tokenizer.UNK_ID};
        try (T5Tokenizer tok = T5Tokenizer.load(pipeline.resolve("tokenizer"))) {
            assertThat(tok.tokenize("cow \u00e9")).containsExactly(expected);
            assertThat(tok.tokenize("<extra_id_0>")).containsExactly(tok.pieceCount() + 99);
        }
    }

    @Test
    void transformerIsBf16InTwoShardsWithAnIndexNamingEveryParameter() throws Exception {
        Path dir = pipeline.resolve("transformer");
        Path index = dir.resolve("diffusion_pytorch_model.safetensors.index.json");
        JsonNode json = JSON.readTree(index.toFile());
        Set<String> shardFiles = new HashSet<>();
        json.get("weight_map").forEach(n -> shardFiles.add(n.asText()));
        assertThat(shardFiles).containsExactlyInAnyOrder("diffusion_pytorch_model-00001-of-00002.safetensors",
                "diffusion_pytorch_model-00002-of-00002.safetensors");
        Set<String> expectedNames = ParameterLayout.of(TinyPipelineWriter.transformerConfig()).shapes().keySet();
        try (ShardedSafetensors weights = ShardedSafetensors.open(index)) {
            assertThat(weights.names()).containsExactlyInAnyOrderElementsOf(expectedNames);
            long bytes = 0;
            for (String name : weights.names()) {
                assertThat(weights.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.BF16);
                bytes += weights.info(name).byteLength();
            }
            assertThat(json.get("metadata").get("total_size").asLong()).isEqualTo(bytes);
        }
    }

    @Test
    void configsAreThoseOfTheGoldenTinyPipelineApartFromTheVocabularySize() throws Exception {
        Path golden = Golden.path("pipeline", "t2v_5b", "model");
        for (String file : List.of("model_index.json", "transformer/config.json", "vae/config.json",
                "scheduler/scheduler_config.json", "text_encoder/config.json")) {
            ObjectNode ours = (ObjectNode) JSON.readTree(pipeline.resolve(file).toFile());
            ObjectNode theirs = (ObjectNode) JSON.readTree(golden.resolve(file).toFile());
            theirs.remove(List.of("_diffusers_version", "transformers_version"));
            if (file.startsWith("text_encoder")) {
                theirs.remove("vocab_size");
                assertThat(ours.remove("vocab_size").asInt())
                        .isGreaterThanOrEqualTo(SentencePieceModelWriter.t5Vocabulary(CAPTIONS).size() + 100);
            }
            assertThat(ours).as(file).isEqualTo(theirs);
        }
    }

    @Test
    void theSameSeedWritesTheSameBytes() throws Exception {
        Path again = TinyPipelineWriter.write(tmp.resolve("again"), 7, CAPTIONS);
        List<Path> files;
        try (Stream<Path> s = Files.walk(pipeline)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        assertThat(files).hasSize(13);
        for (Path f : files) {
            assertThat(again.resolve(pipeline.relativize(f))).as(pipeline.relativize(f).toString())
                    .hasSameBinaryContentAs(f);
        }
    }
}
