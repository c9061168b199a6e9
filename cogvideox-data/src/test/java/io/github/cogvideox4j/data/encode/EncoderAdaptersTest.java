package io.github.cogvideox4j.data.encode;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.text.T5PromptEncoder;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.LatentDistribution;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EncoderAdaptersTest {
    @TempDir
    Path tmp;

    static Path pipeline() {
        String golden = System.getProperty("golden.dir");
        assertThat(golden).as("-Dgolden.dir must be set").isNotNull();
        Path p = Path.of(golden, "pipeline", "t2v_5b", "model");
        assertThat(p.resolve("vae/config.json")).exists();
        return p;
    }

    private static NDArray ramp(NDManager m, Shape shape) {
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(i * 0.37);
        }
        return EngineArrays.create(m, v, shape);
    }

    @Test
    void vaeMomentsAreMeanThenLogvarOfTheCoreVaeForOneClip() throws IOException {
        try (NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            VaeLatentEncoder enc = VaeLatentEncoder.load(pipeline(), false, m);
            try (AutoencoderKLCogVideoX vae = enc.vae()) {
                NDArray pixels = ramp(m, new Shape(9, 3, 32, 48));
                NDArray moments = enc.encodeMoments(pixels, m);

                assertThat(moments.getShape()).isEqualTo(new Shape(32, 3, 4, 6));
                try (LatentDistribution d = vae.encode(pixels.transpose(1, 0, 2, 3).expandDims(0))) {
                    NDArray expected = d.mean().concat(d.logvar(), 1).squeeze(0);
                    assertThat(moments.sub(expected).abs().max().getFloat()).isEqualTo(0f);
                }
                assertThat(enc.scalingFactor()).isEqualTo(0.7f);
                assertThat(VaeLatentEncoder.scalingFactorOf(pipeline())).isEqualTo(0.7f);
            }
        }
    }

    @Test
    void t5EmbeddingIsTheCorePromptEncodersRowForThePrompt() throws IOException {
        try (NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            T5TextEncoder enc = T5TextEncoder.load(pipeline(), DataType.FLOAT32, m);
            try (T5PromptEncoder t5 = enc.t5()) {
                NDArray one = enc.encode("a grey fade", m);
                NDArray batch = t5.encode(List.of("a grey fade"), m);

                assertThat(one.getShape()).isEqualTo(new Shape(226, 32));
                assertThat(one.sub(batch.get(0)).abs().max().getFloat()).isEqualTo(0f);
            }
        }
    }

    private Path copyOfPipeline() throws IOException {
        Path copy = tmp.resolve("model");
        try (Stream<Path> s = Files.walk(pipeline())) {
            for (Path p : s.toList()) {
                Path dst = copy.resolve(pipeline().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(p, dst);
                    dst.toFile().setWritable(true);
                }
            }
        }
        return copy;
    }

    @Test
    void identitiesChangeWhenWeightsChangeAndNotWhenTheFolderMoves() throws IOException {
        Path copy = copyOfPipeline();
        String vae = VaeLatentEncoder.identityOf(copy, false);
        String t5 = T5TextEncoder.identityOf(copy, DataType.FLOAT32);
        assertThat(vae).isEqualTo(VaeLatentEncoder.identityOf(pipeline(), false)).startsWith("cogvideox-vae/");
        assertThat(t5).isEqualTo(T5TextEncoder.identityOf(pipeline(), DataType.FLOAT32)).startsWith("t5/");
        assertThat(VaeLatentEncoder.identityOf(copy, true)).isNotEqualTo(vae);
        assertThat(T5TextEncoder.identityOf(copy, DataType.BFLOAT16)).isNotEqualTo(t5);

        Path vaeWeights = copy.resolve("vae/diffusion_pytorch_model.safetensors");
        byte[] bytes = Files.readAllBytes(vaeWeights);
        bytes[bytes.length - 1] ^= 1;
        Files.write(vaeWeights, bytes);
        Path t5Weights = copy.resolve("text_encoder/model.safetensors");
        byte[] t5Bytes = Files.readAllBytes(t5Weights);
        t5Bytes[t5Bytes.length - 1] ^= 1;
        Files.write(t5Weights, t5Bytes);

        assertThat(VaeLatentEncoder.identityOf(copy, false)).isNotEqualTo(vae);
        assertThat(T5TextEncoder.identityOf(copy, DataType.FLOAT32)).isNotEqualTo(t5);
    }

    @Test
    void largeWeightFilesAreFingerprintedBySizeAndModificationTime() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("big"));
        Path big = dir.resolve("w.safetensors");
        Files.write(big, new byte[(int) WeightsIdentity.SMALL_FILE_BYTES + 1]);
        Files.setLastModifiedTime(big, FileTime.fromMillis(1_000_000L));
        String before = WeightsIdentity.of(List.of(dir));
        Files.setLastModifiedTime(big, FileTime.fromMillis(2_000_000L));

        assertThat(WeightsIdentity.of(List.of(dir))).isNotEqualTo(before);
    }
}
