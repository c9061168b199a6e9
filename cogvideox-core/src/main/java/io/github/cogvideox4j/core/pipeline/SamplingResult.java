package io.github.cogvideox4j.core.pipeline;

import ai.djl.ndarray.NDArray;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The denoised latents of a {@link CogVideoXSampler} run, ready for a VAE decoder: permute to
 * {@code [B, C, F, h, w]} and multiply by {@code 1 / scaling_factor} before decoding (the pipeline's
 * {@code decode_latents}).
 *
 * <p>Ownership: the arrays belong to the manager given to the sampler; {@link #close()} closes them. Thread safety:
 * an immutable record of references to (mutable) arrays.
 *
 * @param latents {@code [B, F, C, h, w]}: the padded latents with the first {@code additionalFrames} latent frames
 *     dropped (the pipeline's {@code latents[:, additional_frames:]})
 * @param paddedLatents {@code [B, F + additionalFrames, C, h, w]}: what the denoising loop produced (the pipeline's
 *     {@code output_type="latent"} result); the same array as {@code latents} when nothing was padded
 * @param additionalFrames latent frames the CogVideoX1.5 pipeline padding added (0 for 1.0 models)
 * @param timesteps the timesteps of the run
 */
public record SamplingResult(NDArray latents, NDArray paddedLatents, int additionalFrames, int[] timesteps)
        implements AutoCloseable {

    /**
     * Writes {@code latents} (and {@code padded_latents} when frames were padded) as a safetensors file with
     * metadata describing the layout and the decode rule.
     *
     * @param file the destination; its directory must exist
     * @throws IOException if writing fails
     */
    public void writeSafetensors(Path file) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("latents", latents);
        if (paddedLatents != latents) {
            tensors.put("padded_latents", paddedLatents);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("layout", "B,F,C,H,W");
        meta.put("additional_frames", Integer.toString(additionalFrames));
        meta.put("timesteps", Arrays.toString(timesteps));
        meta.put("decode", "permute to [B,C,F,H,W], multiply by 1/scaling_factor, VAE decode");
        SafetensorsWriter.write(file, tensors, meta);
    }

    /** Closes the latents. */
    @Override
    public void close() {
        latents.close();
        if (paddedLatents != latents) {
            paddedLatents.close();
        }
    }
}
