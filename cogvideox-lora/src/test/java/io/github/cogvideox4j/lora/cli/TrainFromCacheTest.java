package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.media.ContentHash;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `cogvideox train` reads every entry of a latent cache (two buckets here) and trains a LoRA from it. */
class TrainFromCacheTest {
    @TempDir
    Path tmp;

    @Test
    void trainsALoraFromEveryEntryOfALatentCache() throws Exception {
        LatentCache cache = new LatentCache(tmp.resolve("cache"));
        Bucket[] buckets = {new Bucket(9, 64, 96), new Bucket(9, 96, 64)};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < 6; i++) {
                Bucket b = buckets[i % 2];
                CacheKey key = new CacheKey(ContentHash.sha256("video " + i), ContentHash.sha256("prompt " + i),
                        "test-vae", "test-t5", b, SafetensorsDType.F32, "resize");
                // tiny-5b: 4 latent channels -> moments [8, F_lat, h, w]; prompt [8, 32]
                cache.write(key, new CachedSample(m.randomNormal(new Shape(8, 3, b.height() / 8, b.width() / 8)),
                        m.randomNormal(new Shape(8, 32)), Optional.empty(), 0.7f, OptionalDouble.empty()));
            }
        }
        Path out = tmp.resolve("run");
        int code = new CommandLine(new CogVideoXCli()).execute("train", "--set", "model.builtin=tiny-5b",
                "--set", "data.cache=" + tmp.resolve("cache"), "--set", "data.synthetic=null",
                "--set", "output_dir=" + out, "--set", "steps=4", "--set", "batch_size=2",
                "--set", "validation_every=0", "--set", "lora.rank=4");
        assertThat(code).isZero();
        try (SafetensorsReader lora = SafetensorsReader.open(out.resolve("pytorch_lora_weights.safetensors"))) {
            assertThat(lora.names()).contains("transformer.transformer_blocks.0.attn1.to_q.lora_B.weight");
        }
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSizeGreaterThanOrEqualTo(4);
    }
}
