package io.github.cogvideox4j.bench;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.vae.VaeConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Analytic convolution FLOP count of the CogVideoX VAE ({@code AutoencoderKLCogVideoX}), walking the same frame
 * chunks, blocks and tiles as the implementation. Every convolution costs
 * <pre>2 · kT·kH·kW · Cin · Cout · T · H · W</pre>
 * multiply-adds ×2 at its <em>output</em> resolution {@code T x H x W}: {@code 2·27·Cin·Cout·T·H·W} for the causal
 * 3x3x3 convs (conv_in, resnet conv1/conv2, conv_out), {@code 2·Cin·Cout·T·H·W} for the 1x1x1 ones (resnet
 * conv_shortcut when Cin != Cout, SpatialNorm3D conv_y/conv_b with Cin = latent channels), {@code 2·9·C·C·T·H·W} for
 * the per-frame 3x3 Conv2d of the down/up samplers. Norms, activations, padding, pooling and blending are not counted
 * (they are a few percent at most of the total and memory-bound).
 *
 * <p>Frame chunks as in the model: encode runs chunks of 8 pixel frames (the first takes the remainder, e.g. 9), decode
 * chunks of 2 latent frames (first: 3); the down samplers of the first log2(temporal ratio) blocks halve time (odd
 * count: first frame kept), the up samplers double it (odd count: first frame kept single). Tiling enumerates the
 * same tiles as the model (same integer truncation of stride and crop).
 *
 * <p>Thread safety: stateless.
 */
final class VaeFlops {
    private VaeFlops() {}

    /** Spatial tiling settings; {@code null} tiling means none. */
    record Tiling(int tileSampleHeight, int tileSampleWidth, double overlapHeight, double overlapWidth) {}

    /**
     * @param c the VAE config
     * @param frames pixel frames F
     * @param height pixel height
     * @param width pixel width
     * @param tiling the tiling, or {@code null}
     * @return conv FLOPs of encoding one clip
     */
    static double encode(VaeConfig c, int frames, int height, int width, Tiling tiling) {
        if (tiling == null || (width <= tiling.tileSampleWidth() && height <= tiling.tileSampleHeight())) {
            return encodeChunks(c, frames, height, width);
        }
        int strideH = (int) (tiling.tileSampleHeight() * (1 - tiling.overlapHeight()));
        int strideW = (int) (tiling.tileSampleWidth() * (1 - tiling.overlapWidth()));
        double sum = 0;
        for (int th : tileSizes(height, strideH, tiling.tileSampleHeight())) {
            for (int tw : tileSizes(width, strideW, tiling.tileSampleWidth())) {
                sum += encodeChunks(c, frames, th, tw);
            }
        }
        return sum;
    }

    /**
     * @param c the VAE config
     * @param latentFrames latent frames f
     * @param h latent height
     * @param w latent width
     * @param tiling the tiling (in pixel units, as the model's), or {@code null}
     * @return conv FLOPs of decoding one latent clip
     */
    static double decode(VaeConfig c, int latentFrames, int h, int w, Tiling tiling) {
        int scale = spatialScale(c);
        if (tiling == null) {
            return decodeChunks(c, latentFrames, h, w);
        }
        int tileH = tiling.tileSampleHeight() / scale;
        int tileW = tiling.tileSampleWidth() / scale;
        if (w <= tileW && h <= tileH) {
            return decodeChunks(c, latentFrames, h, w);
        }
        int strideH = (int) (tileH * (1 - tiling.overlapHeight()));
        int strideW = (int) (tileW * (1 - tiling.overlapWidth()));
        double sum = 0;
        for (int th : tileSizes(h, strideH, tileH)) {
            for (int tw : tileSizes(w, strideW, tileW)) {
                sum += decodeChunks(c, latentFrames, th, tw);
            }
        }
        return sum;
    }

    /** @return the sizes of the tiles along one axis: starts 0, stride, ... below extent; size min(tile, rest) */
    static List<Integer> tileSizes(int extent, int stride, int tile) {
        Preconditions.checkArgument(stride > 0, "stride %s", stride);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < extent; i += stride) {
            out.add(Math.min(i + tile, extent) - i);
        }
        return out;
    }

    /** @return the model's frame chunks' lengths: max(F/n, 1) chunks, the first taking the remainder */
    static List<Integer> chunkLengths(int frames, int n) {
        int batches = Math.max(frames / n, 1);
        int rem = frames % n;
        List<Integer> out = new ArrayList<>();
        for (int k = 0; k < batches; k++) {
            int start = n * k + (k == 0 ? 0 : rem);
            out.add(Math.min(n * (k + 1) + rem, frames) - start);
        }
        return out;
    }

    static double conv(int kernelVolume, long cin, long cout, long t, long h, long w) {
        return 2.0 * kernelVolume * cin * cout * t * h * w;
    }

    private static int spatialScale(VaeConfig c) {
        return 1 << (c.blockOutChannels().size() - 1);
    }

    private static double encodeChunks(VaeConfig c, int frames, int height, int width) {
        double sum = 0;
        for (int t : chunkLengths(frames, 8)) {
            sum += encoderChunk(c, t, height, width);
        }
        return sum;
    }

    private static double decodeChunks(VaeConfig c, int latentFrames, int h, int w) {
        double sum = 0;
        for (int t : chunkLengths(latentFrames, 2)) {
            sum += decoderChunk(c, t, h, w);
        }
        return sum;
    }

    private static double resnet(long in, long out, long t, long h, long w, long zq) {
        double f = conv(27, in, out, t, h, w) + conv(27, out, out, t, h, w);
        if (in != out) {
            f += conv(1, in, out, t, h, w);
        }
        if (zq > 0) { // two SpatialNorm3D, each conv_y and conv_b (1x1x1, zq -> C)
            f += 2 * conv(1, zq, in, t, h, w) + 2 * conv(1, zq, out, t, h, w);
        }
        return f;
    }

    private static double encoderChunk(VaeConfig c, int t, int h, int w) {
        List<Integer> ch = c.blockOutChannels();
        int timeLevels = Integer.numberOfTrailingZeros(c.temporalCompressionRatio());
        double f = conv(27, c.inChannels(), ch.get(0), t, h, w);
        int out = ch.get(0);
        for (int i = 0; i < ch.size(); i++) {
            int in = out;
            out = ch.get(i);
            for (int j = 0; j < c.layersPerBlock(); j++) {
                f += resnet(j == 0 ? in : out, out, t, h, w, 0);
            }
            if (i < ch.size() - 1) {
                if (i < timeLevels) {
                    t = t % 2 == 1 ? 1 + (t - 1) / 2 : t / 2;
                }
                h = (h + 1 - 3) / 2 + 1; // pad 1 right/bottom, 3x3 stride 2
                w = (w + 1 - 3) / 2 + 1;
                f += conv(9, out, out, t, h, w);
            }
        }
        int top = ch.get(ch.size() - 1);
        f += 2 * resnet(top, top, t, h, w, 0);
        f += conv(27, top, 2L * c.latentChannels(), t, h, w);
        return f;
    }

    private static double decoderChunk(VaeConfig c, int t, int h, int w) {
        List<Integer> rev = new ArrayList<>(c.blockOutChannels());
        java.util.Collections.reverse(rev);
        int z = c.latentChannels();
        int timeLevels = Integer.numberOfTrailingZeros(c.temporalCompressionRatio());
        double f = conv(27, z, rev.get(0), t, h, w);
        f += 2 * resnet(rev.get(0), rev.get(0), t, h, w, z);
        int out = rev.get(0);
        for (int i = 0; i < rev.size(); i++) {
            int in = out;
            out = rev.get(i);
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                f += resnet(j == 0 ? in : out, out, t, h, w, z);
            }
            if (i < rev.size() - 1) {
                if (i < timeLevels && t > 1) {
                    t = t % 2 == 1 ? 1 + 2 * (t - 1) : 2 * t;
                }
                h *= 2;
                w *= 2;
                f += conv(9, out, out, t, h, w);
            }
        }
        int bottom = rev.get(rev.size() - 1);
        f += 2 * conv(1, z, bottom, t, h, w); // norm_out (SpatialNorm3D)
        f += conv(27, bottom, c.outChannels(), t, h, w);
        return f;
    }
}
