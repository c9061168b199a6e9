package io.github.cogvideox4j.bench;

/**
 * What one {@link TrainingStepBench} row trains and how: full fine-tune or LoRA, fp32 or bf16 mixed precision, with
 * or without per-block activation checkpointing.
 *
 * <p><b>bf16 mixed precision is not available yet</b> (another developer is building it): the {@code *_BF16*}
 * modes are listed so the table has their rows, and {@link #available()} is false for them; the bench prints "not
 * available yet" instead of a number. When the bf16 path lands, make {@code available()} true for them and give
 * {@link TrainingStepBench} the code that switches the model to bf16 compute (the marked place in its
 * {@code runStep}).
 */
public enum TrainingStepMode {
    /** All parameters require gradients, fp32, plain autograd (every block's activations kept). */
    FULL_FP32(false, false, false),
    /** All parameters, fp32, block checkpointing ({@code forwardBackwardWithRecompute}). */
    FULL_FP32_CKPT(false, true, false),
    /** All parameters, bf16 mixed precision: not available yet. */
    FULL_BF16(false, false, true),
    /** All parameters, bf16 mixed precision, block checkpointing: not available yet. */
    FULL_BF16_CKPT(false, true, true),
    /** LoRA (base weights frozen), fp32, plain autograd. */
    LORA_FP32(true, false, false),
    /** LoRA, fp32, block checkpointing. */
    LORA_FP32_CKPT(true, true, false),
    /** LoRA, bf16 mixed precision: not available yet. */
    LORA_BF16(true, false, true),
    /** LoRA, bf16 mixed precision, block checkpointing: not available yet. */
    LORA_BF16_CKPT(true, true, true);

    private final boolean lora;
    private final boolean checkpointed;
    private final boolean bf16;

    TrainingStepMode(boolean lora, boolean checkpointed, boolean bf16) {
        this.lora = lora;
        this.checkpointed = checkpointed;
        this.bf16 = bf16;
    }

    /** @return whether only LoRA adapters train (base weights frozen) */
    public boolean lora() {
        return lora;
    }

    /** @return whether blocks are recomputed in backward ({@code forwardBackwardWithRecompute}) */
    public boolean checkpointed() {
        return checkpointed;
    }

    /** @return whether the step computes in bf16 mixed precision */
    public boolean bf16() {
        return bf16;
    }

    /** @return whether the bench can run this mode today (false for bf16: not available yet) */
    public boolean available() {
        return !bf16;
    }
}
