package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;

/**
 * The arguments of the community CogVideoX1.5 I2V LoRA trainer (Passenger12138/CogVideoX-5B-I2V-v1.5-lora-train,
 * {@code finetune/train_cogvideox_image_to_video_lora.py}) that decide buckets and frames, named after its flags.
 *
 * <p>Thread safety: immutable.
 *
 * @param imageSampleSize {@code --image_sample_size} (largest candidate size in token mode)
 * @param videoSampleSize {@code --video_sample_size} (base scale of the aspect table; smallest candidate size)
 * @param tokenSampleSize {@code --token_sample_size} (token budget = {@code videoSampleNFrames * tokenSampleSize^2})
 * @param videoSampleStride {@code --video_sample_stride} (source frames between two sampled frames)
 * @param videoSampleNFrames {@code --video_sample_n_frames} (frames sampled per clip at most)
 * @param randomHwAdapt {@code --random_hw_adapt}
 * @param trainingWithVideoTokenLength {@code --training_with_video_token_length}; with {@code randomHwAdapt}: the
 *     token-budget frame rule and a random size per batch. {@code randomHwAdapt} without it (a random downsample ratio)
 *     is not supported (no golden vectors)
 * @param patchSizeT the transformer's {@code patch_size_t}: 2 for CogVideoX1.5 (odd latent counts are trimmed by 4
 *     pixel frames), 0 for none (CogVideoX 1.0: no trim)
 * @param videoLengthDropStart {@code --video_length_drop_start}, in [0, 1)
 * @param videoLengthDropEnd {@code --video_length_drop_end}, in ({@code videoLengthDropStart}, 1]
 */
public record Community15Config(int imageSampleSize, int videoSampleSize, int tokenSampleSize, int videoSampleStride,
        int videoSampleNFrames, boolean randomHwAdapt, boolean trainingWithVideoTokenLength, int patchSizeT,
        double videoLengthDropStart, double videoLengthDropEnd) {

    /** Validates the arguments. */
    public Community15Config {
        Preconditions.checkArgument(imageSampleSize > 0 && videoSampleSize > 0 && tokenSampleSize > 0,
                "sample sizes must be positive, got image %s video %s token %s", imageSampleSize, videoSampleSize,
                tokenSampleSize);
        Preconditions.checkArgument(videoSampleStride > 0, "videoSampleStride must be positive, got %s",
                videoSampleStride);
        Preconditions.checkArgument(videoSampleNFrames > 0, "videoSampleNFrames must be positive, got %s",
                videoSampleNFrames);
        Preconditions.checkArgument(patchSizeT >= 0, "patchSizeT must be 0 (none) or positive, got %s", patchSizeT);
        Preconditions.checkArgument(!randomHwAdapt || trainingWithVideoTokenLength,
                "randomHwAdapt without trainingWithVideoTokenLength (random downsample ratio) is not supported");
        Preconditions.checkArgument(videoLengthDropStart >= 0 && videoLengthDropStart < videoLengthDropEnd
                        && videoLengthDropEnd <= 1.0, "need 0 <= videoLengthDropStart < videoLengthDropEnd <= 1, got %s, %s",
                videoLengthDropStart, videoLengthDropEnd);
    }

    /** @return {@code finetune/scripts/train_cogvideox_i2v_lora_single_rank.sh}: image 1280, video 512, token 512,
     *     stride 3, 49 frames, token mode, {@code patch_size_t} 2 */
    public static Community15Config finetuneScript() {
        return new Community15Config(1280, 512, 512, 3, 49, true, true, 2, 0.0, 1.0);
    }

    /** @return {@code scripts/train_cogvideox_i2v_lora_single_rank.sh}: 768 everywhere, stride 3, 49 frames, no
     *     {@code --random_hw_adapt} (fixed size, 53 frames then trimmed to 45), {@code patch_size_t} 2 */
    public static Community15Config scripts768() {
        return new Community15Config(768, 768, 768, 3, 49, false, true, 2, 0.0, 1.0);
    }

    /** @return true when the token-budget frame rule and the random size choice apply */
    public boolean tokenMode() {
        return randomHwAdapt && trainingWithVideoTokenLength;
    }
}
