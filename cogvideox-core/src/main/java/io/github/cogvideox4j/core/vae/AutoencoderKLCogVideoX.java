package io.github.cogvideox4j.core.vae;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.WeightLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CogVideoX VAE ({@code AutoencoderKLCogVideoX} of diffusers, 1.0 and 1.5 releases), FLOAT32 on the CPU.
 * {@link #encode} runs the causal encoder over chunks of 8 pixel frames (the first chunk takes the odd remainder:
 * 9 frames), {@link #decode} over chunks of 2 latent frames (remainder first); the conv caches carry causality across
 * chunks and GroupNorm statistics are per chunk, exactly as diffusers. No scaling factor is applied: pipelines
 * multiply latents by {@link #scalingFactor()} (I2V image latents: divide if {@link #invertScaleLatents()}).
 *
 * <p>Options: {@link #enableSlicing()} (batch items one at a time) and {@link #enableTiling()} (overlapping spatial
 * tiles blended linearly, diffusers defaults). Ownership: results belong to the input's manager; the weights to
 * this model (close it). Thread safety: the model is immutable apart from the options, but DJL arrays must be
 * confined to one thread; do not call concurrently with option changes.
 */
public final class AutoencoderKLCogVideoX implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AutoencoderKLCogVideoX.class);
    /** Weight file base name of a Diffusers VAE folder. */
    public static final String WEIGHTS_BASE_NAME = "diffusion_pytorch_model";
    private static final int SAMPLE_FRAMES_PER_CHUNK = 8;
    private static final int LATENT_FRAMES_PER_CHUNK = 2;

    private final VaeConfig config;
    private final NDManager manager;
    private final Encoder3D encoder;
    private final Decoder3D decoder;
    private boolean slicing;
    private boolean tiling;
    private int tileSampleMinHeight;
    private int tileSampleMinWidth;
    private double tileOverlapFactorHeight = 1.0 / 6;
    private double tileOverlapFactorWidth = 1.0 / 5;
    private BiConsumer<String, NDArray> probe;

    private AutoencoderKLCogVideoX(VaeConfig config, NDManager manager, Map<String, NDArray> state) {
        this.config = config;
        this.manager = manager;
        Params p = Params.of(state);
        this.encoder = new Encoder3D(config, p);
        this.decoder = new Decoder3D(config, p);
        this.tileSampleMinHeight = config.sampleHeight() / 2;
        this.tileSampleMinWidth = config.sampleWidth() / 2;
    }

    /**
     * Names and shapes of every tensor of the state dict for a config, without allocating any.
     *
     * @param config the config
     * @return Diffusers key -> shape, in module order
     */
    public static Map<String, Shape> parameterShapes(VaeConfig config) {
        Params p = Params.declaring();
        new Encoder3D(config, p);
        new Decoder3D(config, p);
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(p.declared()));
    }

    /**
     * Loads a Diffusers VAE folder ({@code config.json} and {@code diffusion_pytorch_model.safetensors}, or a
     * pipeline root holding {@code vae/}). Names and shapes are checked before reading; every missing, unexpected and
     * mismatched tensor is reported in one {@link WeightLoadException}. BF16/F16 weights are widened to FLOAT32.
     *
     * @param dir the {@code vae/} folder or a pipeline root
     * @param parent the parent of the model's own manager
     * @return the model; close it to free the weights
     * @throws IOException if a file cannot be read
     * @throws WeightLoadException if the weights do not match the config
     */
    public static AutoencoderKLCogVideoX load(Path dir, NDManager parent) throws IOException {
        Path folder = Files.isRegularFile(dir.resolve("config.json")) ? dir : dir.resolve("vae");
        VaeConfig config = VaeConfig.read(folder.resolve("config.json"));
        Map<String, Shape> layout = parameterShapes(config);
        try (TensorSource weights = SafetensorsFiles.openModelWeights(folder, WEIGHTS_BASE_NAME)) {
            List<String> missing = new ArrayList<>();
            List<String> mismatched = new ArrayList<>();
            for (Map.Entry<String, Shape> e : layout.entrySet()) {
                if (!weights.contains(e.getKey())) {
                    missing.add(e.getKey());
                } else {
                    Shape actual = weights.info(e.getKey()).djlShape();
                    if (!actual.equals(e.getValue())) {
                        mismatched.add(e.getKey() + ": expected " + e.getValue() + ", got " + actual);
                    }
                }
            }
            List<String> unexpected = weights.names().stream().filter(n -> !layout.containsKey(n)).toList();
            if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatched.isEmpty()) {
                throw new WeightLoadException(folder.toString(), missing, unexpected, mismatched);
            }
            NDManager own = parent.newSubManager();
            try {
                Map<String, NDArray> state = new LinkedHashMap<>();
                for (String name : layout.keySet()) {
                    NDArray a = weights.read(name, own, DataType.FLOAT32);
                    a.setName(name);
                    state.put(name, a);
                }
                LOG.debug("loaded VAE ({} tensors) from {}", state.size(), folder);
                return new AutoencoderKLCogVideoX(config, own, state);
            } catch (RuntimeException e) {
                own.close();
                throw e;
            }
        }
    }

    /** @return the device the weights live on (the device of the manager the VAE was loaded into) */
    public Device device() {
        return manager.getDevice();
    }

    /** @return the config */
    public VaeConfig config() {
        return config;
    }

    /** @return the config's {@code scaling_factor} (applied by pipelines, not here) */
    public double scalingFactor() {
        return config.scalingFactor();
    }

    /** @return the config's {@code invert_scale_latents} (1.5: I2V image latents are divided by the scale) */
    public boolean invertScaleLatents() {
        return config.invertScaleLatents();
    }

    /** Encodes/decodes batch items one at a time (same math, lower peak memory). */
    public void enableSlicing() {
        slicing = true;
    }

    /** Processes whole batches (default). */
    public void disableSlicing() {
        slicing = false;
    }

    /**
     * Tiled encode/decode with the diffusers defaults: tiles of {@code sample_height/2 x sample_width/2} pixels
     * (latent tiles that / 8), overlap factors 1/6 (height) and 1/5 (width), linear blending. Changes the numbers.
     */
    public void enableTiling() {
        tiling = true;
    }

    /**
     * Tiled encode/decode with explicit settings ({@code enable_tiling(...)} of diffusers).
     *
     * @param tileSampleMinHeight tile height in pixels (a multiple of 8)
     * @param tileSampleMinWidth tile width in pixels (a multiple of 8)
     * @param overlapFactorHeight overlap of vertical neighbours, in (0, 1)
     * @param overlapFactorWidth overlap of horizontal neighbours, in (0, 1)
     * @throws IllegalArgumentException for values outside those ranges
     */
    public void enableTiling(int tileSampleMinHeight, int tileSampleMinWidth, double overlapFactorHeight,
            double overlapFactorWidth) {
        Preconditions.checkArgument(tileSampleMinHeight >= config.spatialScale()
                && tileSampleMinWidth >= config.spatialScale(), "tile %sx%s smaller than the spatial scale %s",
                tileSampleMinHeight, tileSampleMinWidth, config.spatialScale());
        Preconditions.checkArgument(overlapFactorHeight > 0 && overlapFactorHeight < 1 && overlapFactorWidth > 0
                && overlapFactorWidth < 1, "overlap factors must be in (0, 1): %s, %s", overlapFactorHeight,
                overlapFactorWidth);
        this.tileSampleMinHeight = tileSampleMinHeight;
        this.tileSampleMinWidth = tileSampleMinWidth;
        this.tileOverlapFactorHeight = overlapFactorHeight;
        this.tileOverlapFactorWidth = overlapFactorWidth;
        tiling = true;
    }

    /** Turns tiling off (default). */
    public void disableTiling() {
        tiling = false;
    }

    /** Test hook: receives named intermediate outputs per frame chunk (freed after the call). */
    void setProbe(BiConsumer<String, NDArray> probe) {
        this.probe = probe;
    }

    /**
     * @param pixels {@code [B, in_channels, F, H, W]} in [-1, 1], FLOAT32; H and W multiples of 8
     * @return the posterior with {@code [B, latent, f, H/8, W/8]} halves, {@code f = (F-1)/4 + 1} for
     *     {@code F = 4k+1}; owned by a sub-manager of the input's manager (close it)
     */
    public LatentDistribution encode(NDArray pixels) {
        Shape s = pixels.getShape();
        Preconditions.checkArgument(s.dimension() == 5 && s.get(1) == config.inChannels(),
                "pixels must be [B, %s, F, H, W], got %s", config.inChannels(), s);
        NDArray h = perSample(pixels, this::encodeOne);
        try (h) {
            return new LatentDistribution(h, pixels.getManager());
        }
    }

    /**
     * @param latents {@code [B, latent, f, h, w]} (already divided by the scaling factor)
     * @return the video {@code [B, out_channels, F', 8h, 8w]} in the input's manager; the caller owns it
     */
    public NDArray decode(NDArray latents) {
        Shape s = latents.getShape();
        Preconditions.checkArgument(s.dimension() == 5 && s.get(1) == config.latentChannels(),
                "latents must be [B, %s, f, h, w], got %s", config.latentChannels(), s);
        return perSample(latents, this::decodeOne);
    }

    private NDArray perSample(NDArray x, java.util.function.Function<NDArray, NDArray> one) {
        long b = x.getShape().get(0);
        if (!slicing || b == 1) {
            return one.apply(x);
        }
        NDList parts = new NDList();
        try {
            for (long i = 0; i < b; i++) {
                try (NDArray item = x.get(new NDIndex(i + ":" + (i + 1)))) {
                    parts.add(one.apply(item));
                }
            }
            NDArray out = NDArrays.concat(parts, 0);
            out.attach(x.getManager());
            return out;
        } finally {
            parts.close();
        }
    }

    private NDArray encodeOne(NDArray x) {
        Shape s = x.getShape();
        if (tiling && (s.get(4) > tileSampleMinWidth || s.get(3) > tileSampleMinHeight)) {
            return tiledEncode(x);
        }
        return chunked(x, SAMPLE_FRAMES_PER_CHUNK, (chunk, cache) -> encoder.forward(chunk, cache, probe));
    }

    private NDArray decodeOne(NDArray z) {
        Shape s = z.getShape();
        if (tiling && (s.get(4) > tileLatentMinWidth() || s.get(3) > tileLatentMinHeight())) {
            return tiledDecode(z);
        }
        return chunked(z, LATENT_FRAMES_PER_CHUNK, (chunk, cache) -> decoder.forward(chunk, cache, probe));
    }

    /**
     * Diffusers' frame batching: {@code max(F / n, 1)} chunks; chunk k covers
     * {@code [n*k + (k == 0 ? 0 : F % n), n*(k+1) + F % n)} clipped to F, with one conv cache over all chunks.
     */
    private NDArray chunked(NDArray x, int n, BiFunction<NDArray, ConvCache, NDArray> body) {
        NDList outs = new NDList();
        try (ConvCache cache = new ConvCache(manager)) {
            for (long[] bounds : frameChunks(x.getShape().get(2), n)) {
                long start = bounds[0];
                long end = bounds[1];
                try (NDManager scope = x.getManager().newSubManager()) {
                    NDArray chunk = x.get(new NDIndex(":, :, " + start + ":" + end));
                    chunk.attach(scope);
                    NDArray y = body.apply(chunk, cache);
                    y.attach(x.getManager());
                    outs.add(y);
                }
            }
            if (outs.size() == 1) {
                return outs.remove(0);
            }
            NDArray out = NDArrays.concat(outs, 2);
            out.attach(x.getManager());
            return out;
        } finally {
            outs.close();
        }
    }

    /**
     * @param frames the clip's frame count
     * @param n frames per chunk (8 pixel frames in encode, 2 latent frames in decode)
     * @return {@code [start, end)} per chunk: {@code max(frames / n, 1)} chunks, the first taking the remainder
     */
    static List<long[]> frameChunks(long frames, int n) {
        long batches = Math.max(frames / n, 1);
        long rem = frames % n;
        List<long[]> out = new ArrayList<>();
        for (long k = 0; k < batches; k++) {
            out.add(new long[] {n * k + (k == 0 ? 0 : rem), Math.min(n * (k + 1) + rem, frames)});
        }
        return out;
    }

    private int tileLatentMinHeight() {
        return tileSampleMinHeight / config.spatialScale();
    }

    private int tileLatentMinWidth() {
        return tileSampleMinWidth / config.spatialScale();
    }

    private NDArray tiledEncode(NDArray x) {
        int overlapH = (int) (tileSampleMinHeight * (1 - tileOverlapFactorHeight));
        int overlapW = (int) (tileSampleMinWidth * (1 - tileOverlapFactorWidth));
        int blendH = (int) (tileLatentMinHeight() * tileOverlapFactorHeight);
        int blendW = (int) (tileLatentMinWidth() * tileOverlapFactorWidth);
        return tiled(x, overlapH, overlapW, tileSampleMinHeight, tileSampleMinWidth, blendH, blendW,
                tileLatentMinHeight() - blendH, tileLatentMinWidth() - blendW,
                t -> chunked(t, SAMPLE_FRAMES_PER_CHUNK, (c, cache) -> encoder.forward(c, cache, null)));
    }

    private NDArray tiledDecode(NDArray z) {
        int overlapH = (int) (tileLatentMinHeight() * (1 - tileOverlapFactorHeight));
        int overlapW = (int) (tileLatentMinWidth() * (1 - tileOverlapFactorWidth));
        int blendH = (int) (tileSampleMinHeight * tileOverlapFactorHeight);
        int blendW = (int) (tileSampleMinWidth * tileOverlapFactorWidth);
        return tiled(z, overlapH, overlapW, tileLatentMinHeight(), tileLatentMinWidth(), blendH, blendW,
                tileSampleMinHeight - blendH, tileSampleMinWidth - blendW,
                t -> chunked(t, LATENT_FRAMES_PER_CHUNK, (c, cache) -> decoder.forward(c, cache, null)));
    }

    /**
     * Diffusers' tiled_encode/tiled_decode: tiles at strides (strideH, strideW) of size (tileH, tileW), each run on
     * its own (fresh conv cache), blended with the tile above and to the left, cropped to (limitH, limitW).
     */
    private NDArray tiled(NDArray x, int strideH, int strideW, int tileH, int tileW, int blendH, int blendW,
            int limitH, int limitW, java.util.function.Function<NDArray, NDArray> run) {
        long height = x.getShape().get(3);
        long width = x.getShape().get(4);
        NDManager owner = x.getManager();
        try (NDManager scope = owner.newSubManager()) {
            List<List<NDArray>> rows = new ArrayList<>();
            for (long i = 0; i < height; i += strideH) {
                List<NDArray> row = new ArrayList<>();
                for (long j = 0; j < width; j += strideW) {
                    NDArray tile = x.get(new NDIndex(":, :, :, " + i + ":" + Math.min(i + tileH, height) + ", " + j
                            + ":" + Math.min(j + tileW, width)));
                    tile.attach(scope);
                    NDArray y = run.apply(tile);
                    y.attach(scope);
                    row.add(y);
                }
                rows.add(row);
            }
            NDList resultRows = new NDList();
            for (int i = 0; i < rows.size(); i++) {
                List<NDArray> row = rows.get(i);
                NDList cropped = new NDList();
                for (int j = 0; j < row.size(); j++) {
                    NDArray tile = row.get(j);
                    if (i > 0) {
                        tile = blend(rows.get(i - 1).get(j), tile, blendH, 3);
                    }
                    if (j > 0) {
                        tile = blend(row.get(j - 1), tile, blendW, 4);
                    }
                    row.set(j, tile);
                    cropped.add(tile.get(new NDIndex(":, :, :, :" + limitH + ", :" + limitW)));
                }
                resultRows.add(NDArrays.concat(cropped, 4));
            }
            NDArray out = NDArrays.concat(resultRows, 3);
            out.attach(owner);
            return out;
        }
    }

    /**
     * {@code blend_v}/{@code blend_h}: the first {@code extent} rows/cols of b become
     * {@code a[-extent + y] * (1 - y/extent) + b[y] * (y/extent)}; returns a new array (b is left as is).
     */
    private static NDArray blend(NDArray a, NDArray b, int extent, int axis) {
        int e = (int) Math.min(Math.min(a.getShape().get(axis), b.getShape().get(axis)), extent);
        if (e <= 0) {
            return b;
        }
        String pre = ":, ".repeat(axis);
        long na = a.getShape().get(axis);
        NDList parts = new NDList();
        for (int y = 0; y < e; y++) {
            NDArray ay = a.get(new NDIndex(pre + (na - e + y) + ":" + (na - e + y + 1)));
            NDArray by = b.get(new NDIndex(pre + y + ":" + (y + 1)));
            double wb = (double) y / e;
            NDArray mixed = io.github.cogvideox4j.core.EngineArrays.mul(ay, 1 - wb)
                    .add(io.github.cogvideox4j.core.EngineArrays.mul(by, wb));
            parts.add(mixed);
        }
        parts.add(b.get(new NDIndex(pre + e + ":")));
        return NDArrays.concat(parts, axis);
    }

    @Override
    public void close() {
        manager.close();
    }
}
