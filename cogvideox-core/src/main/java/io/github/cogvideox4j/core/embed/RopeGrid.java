package io.github.cogvideox4j.core.embed;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;
import static com.google.common.base.Preconditions.checkState;

import io.github.cogvideox4j.core.config.CogVideoXConfig;

/**
 * The token grid a 3-D RoPE table is built for, and the positions each axis gets on it (diffusers
 * {@code pipelines/cogvideo/pipeline_cogvideox.py}, {@code _prepare_rotary_positional_embeddings}).
 *
 * <ul>
 *   <li>{@link GridType#LINSPACE} (CogVideoX 1.0, Diffusers {@code grid_type="linspace"}): the grid is mapped onto the
 *       crop region {@link #cropRegion()} of a base grid {@code baseHeight x baseWidth} (the trained sample size over
 *       the patch size, 30x45 for the released models), with possibly fractional positions
 *       {@code h = linspace(top, bottom*(Hg-1)/Hg, Hg)}, {@code w = linspace(left, right*(Wg-1)/Wg, Wg)} (the <em>stop
 *       coordinate</em>, not the span, is scaled) and {@code t = linspace(0, T*(T-1)/T, T) = 0..T-1}.</li>
 *   <li>{@link GridType#SLICE} (CogVideoX 1.5, {@code grid_type="slice"}): integer positions {@code 0..Hg-1},
 *       {@code 0..Wg-1}, {@code 0..T-1}, taken as the first rows of tables built for the maximum size
 *       {@code baseHeight x baseWidth}; the grid must fit inside it.</li>
 * </ul>
 *
 * <p>Positions are float32 computed as PyTorch's CPU {@code torch.linspace} does in its scalar path
 * ({@code start + step*i} for the first half, {@code end - step*(steps-1-i)} for the second, {@code step} in float32);
 * torch's vectorised path (used for runs of at least 16 elements on AVX2) can differ from this by one float32 ulp of
 * a position, far below the RoPE tolerance.
 *
 * <p>Thread safety: immutable, safe to share; usable as a cache key.
 *
 * @param frames temporal token positions {@code T} (latent frames for 1.0, {@code ceil(F/patch_size_t)} for 1.5)
 * @param gridHeight token rows {@code Hg} (latent height / patch size)
 * @param gridWidth token columns {@code Wg} (latent width / patch size)
 * @param type how positions are laid out
 * @param baseHeight LINSPACE: base grid height ({@code sample_height / patch_size}); SLICE: maximum grid height
 * @param baseWidth LINSPACE: base grid width ({@code sample_width / patch_size}); SLICE: maximum grid width
 */
public record RopeGrid(int frames, int gridHeight, int gridWidth, GridType type, int baseHeight, int baseWidth) {

    /** How a {@link RopeGrid} lays its positions out. */
    public enum GridType {
        /** CogVideoX 1.0: crop region of the base grid, interpolated (possibly fractional) positions. */
        LINSPACE,
        /** CogVideoX 1.5: integer positions, a slice of the tables for the maximum size. */
        SLICE
    }

    /**
     * Validates the grid.
     *
     * @throws IllegalArgumentException if a size is not positive, the type is null, or a SLICE grid is larger than
     *     its maximum size (Diffusers fails on the shape mismatch in that case)
     * @throws ArithmeticException if the token count overflows an int
     */
    public RopeGrid {
        checkNotNull(type, "grid type must not be null");
        checkArgument(frames > 0, "frames must be positive, got %s", frames);
        checkArgument(gridHeight > 0, "gridHeight must be positive, got %s", gridHeight);
        checkArgument(gridWidth > 0, "gridWidth must be positive, got %s", gridWidth);
        checkArgument(baseHeight > 0, "baseHeight must be positive, got %s", baseHeight);
        checkArgument(baseWidth > 0, "baseWidth must be positive, got %s", baseWidth);
        if (type == GridType.SLICE) {
            checkArgument(gridHeight <= baseHeight && gridWidth <= baseWidth,
                    "SLICE grid %sx%s exceeds the maximum size %sx%s (sample_height/p x sample_width/p)",
                    gridHeight, gridWidth, baseHeight, baseWidth);
        }
        Math.multiplyExact(Math.multiplyExact(frames, gridHeight), gridWidth);
    }

    /**
     * A CogVideoX 1.0 grid against an explicit base grid, e.g. the Diffusers training scripts' hard-coded 480x720
     * base: {@code linspace(frames, h/2, w/2, 30, 45)}.
     *
     * @param frames latent frames {@code T}
     * @param gridHeight token rows
     * @param gridWidth token columns
     * @param baseHeight base grid height (base pixel height / (8 * patch size))
     * @param baseWidth base grid width
     * @return the grid
     * @throws IllegalArgumentException if a size is not positive
     */
    public static RopeGrid linspace(int frames, int gridHeight, int gridWidth, int baseHeight, int baseWidth) {
        return new RopeGrid(frames, gridHeight, gridWidth, GridType.LINSPACE, baseHeight, baseWidth);
    }

    /**
     * A CogVideoX 1.5 grid with an explicit maximum size (CogVideo's trainer passes the grid itself as maximum).
     *
     * @param frames temporal token positions {@code T}
     * @param gridHeight token rows
     * @param gridWidth token columns
     * @param maxHeight maximum grid height
     * @param maxWidth maximum grid width
     * @return the grid
     * @throws IllegalArgumentException if a size is not positive or the grid exceeds the maximum
     */
    public static RopeGrid slice(int frames, int gridHeight, int gridWidth, int maxHeight, int maxWidth) {
        return new RopeGrid(frames, gridHeight, gridWidth, GridType.SLICE, maxHeight, maxWidth);
    }

    /**
     * The grid the Diffusers pipelines ({@code _prepare_rotary_positional_embeddings}) build for a latent input of
     * {@code latentFrames x latentHeight x latentWidth}: with {@code patch_size_t == null} a LINSPACE grid against
     * the base {@code (sample_height/p, sample_width/p)} and {@code T = latentFrames}; otherwise a SLICE grid with
     * that maximum size and {@code T = ceil(latentFrames / patch_size_t)}.
     *
     * @param config the transformer config (must use rotary positional embeddings)
     * @param latentFrames latent frames fed to the transformer (after any 1.5 padding)
     * @param latentHeight latent height (pixels / 8), a multiple of {@code patch_size}
     * @param latentWidth latent width, a multiple of {@code patch_size}
     * @return the grid
     * @throws IllegalArgumentException if the config has no RoPE, a size is not positive, the latent size is not a
     *     multiple of the patch size, or (1.5) the grid exceeds {@code sample_height/p x sample_width/p}
     */
    public static RopeGrid forPipeline(CogVideoXConfig config, int latentFrames, int latentHeight, int latentWidth) {
        checkNotNull(config, "config must not be null");
        checkArgument(config.useRotaryPositionalEmbeddings(),
                "config has use_rotary_positional_embeddings=false (CogVideoX-2b): it takes no RoPE table");
        checkArgument(latentFrames > 0, "latentFrames must be positive, got %s", latentFrames);
        int p = config.patchSize();
        checkArgument(latentHeight > 0 && latentHeight % p == 0,
                "latent height must be a positive multiple of patch_size %s, got %s", p, latentHeight);
        checkArgument(latentWidth > 0 && latentWidth % p == 0,
                "latent width must be a positive multiple of patch_size %s, got %s", p, latentWidth);
        int baseHeight = config.sampleHeight() / p;
        int baseWidth = config.sampleWidth() / p;
        Integer pt = config.patchSizeT();
        if (pt == null) {
            return linspace(latentFrames, latentHeight / p, latentWidth / p, baseHeight, baseWidth);
        }
        return slice((latentFrames + pt - 1) / pt, latentHeight / p, latentWidth / p, baseHeight, baseWidth);
    }

    /** @return the number of video tokens, {@code frames * gridHeight * gridWidth} */
    public int tokens() {
        return frames * gridHeight * gridWidth;
    }

    /**
     * The crop region of a LINSPACE grid inside its base grid (Diffusers {@code get_resize_crop_region_for_grid}).
     *
     * @return the region
     * @throws IllegalStateException for a SLICE grid
     */
    public CropRegion cropRegion() {
        checkState(type == GridType.LINSPACE, "a SLICE grid has no crop region");
        return CropRegion.of(gridHeight, gridWidth, baseHeight, baseWidth);
    }

    /** @return the float32 position of every token row, length {@code gridHeight} */
    public float[] heightPositions() {
        if (type == GridType.SLICE) {
            return arange(gridHeight);
        }
        CropRegion crop = cropRegion();
        return linspace(crop.top(), (double) ((long) crop.bottom() * (gridHeight - 1)) / gridHeight, gridHeight);
    }

    /** @return the float32 position of every token column, length {@code gridWidth} */
    public float[] widthPositions() {
        if (type == GridType.SLICE) {
            return arange(gridWidth);
        }
        CropRegion crop = cropRegion();
        return linspace(crop.left(), (double) ((long) crop.right() * (gridWidth - 1)) / gridWidth, gridWidth);
    }

    /** @return the float32 position of every temporal token position, length {@code frames} (0..T-1) */
    public float[] framePositions() {
        if (type == GridType.SLICE) {
            return arange(frames);
        }
        return linspace(0, (double) ((long) frames * (frames - 1)) / frames, frames);
    }

    private static float[] arange(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }

    /**
     * {@code torch.linspace(start, end, steps, dtype=float32)} on the CPU, scalar path: the ends are cast to float32,
     * {@code step = (end - start) / (steps - 1)} in float32, the first half counts up from {@code start} and the
     * second half down from {@code end}; one step gives {@code start}.
     */
    static float[] linspace(double start, double end, int steps) {
        float[] out = new float[steps];
        float s = (float) start;
        if (steps == 1) {
            out[0] = s;
            return out;
        }
        float e = (float) end;
        float step = (e - s) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < halfway ? s + step * i : e - step * (steps - i - 1);
        }
        return out;
    }

    /** Python 3 {@code round(x)} for a float: nearest integer, ties to even ({@code round(2.5) == 2}). */
    static int roundHalfEven(double x) {
        return Math.toIntExact((long) Math.rint(x));
    }

    /**
     * A crop region of a base grid, in base-grid coordinates: rows {@code [top, bottom)}, columns
     * {@code [left, right)} (Diffusers returns it as {@code ((top, left), (bottom, right))}).
     *
     * <p>Thread safety: immutable.
     *
     * @param top first row
     * @param left first column
     * @param bottom {@code top + resized height}
     * @param right {@code left + resized width}
     */
    public record CropRegion(int top, int left, int bottom, int right) {

        /**
         * Diffusers {@code get_resize_crop_region_for_grid((gridHeight, gridWidth), baseWidth, baseHeight)}: resize
         * the grid to fit the base grid keeping its aspect ratio, then centre it; every rounding is Python's
         * {@code round} (ties to even, so a centring offset of 2.5 becomes 2).
         *
         * @param gridHeight source grid height
         * @param gridWidth source grid width
         * @param baseHeight target (base) grid height
         * @param baseWidth target (base) grid width
         * @return the region
         * @throws IllegalArgumentException if a size is not positive
         */
        public static CropRegion of(int gridHeight, int gridWidth, int baseHeight, int baseWidth) {
            checkArgument(gridHeight > 0 && gridWidth > 0 && baseHeight > 0 && baseWidth > 0,
                    "sizes must be positive: grid %sx%s, base %sx%s", gridHeight, gridWidth, baseHeight, baseWidth);
            double ratio = (double) gridHeight / gridWidth;
            int resizeHeight;
            int resizeWidth;
            if (ratio > (double) baseHeight / baseWidth) {
                resizeHeight = baseHeight;
                resizeWidth = roundHalfEven((double) baseHeight / gridHeight * gridWidth);
            } else {
                resizeWidth = baseWidth;
                resizeHeight = roundHalfEven((double) baseWidth / gridWidth * gridHeight);
            }
            int top = roundHalfEven((baseHeight - resizeHeight) / 2.0);
            int left = roundHalfEven((baseWidth - resizeWidth) / 2.0);
            return new CropRegion(top, left, top + resizeHeight, left + resizeWidth);
        }
    }
}
