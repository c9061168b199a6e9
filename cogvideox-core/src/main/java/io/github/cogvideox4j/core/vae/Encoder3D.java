package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * {@code CogVideoXEncoder3D}: conv_in, down blocks (resnets, then a downsampler except in the last block; the first
 * {@code log2(temporal_compression_ratio)} compress time), a mid block of two resnets, GroupNorm, SiLU and conv_out
 * to {@code 2 * latent_channels}. Runs on one frame chunk; the conv caches carry causality across chunks.
 *
 * <p>Shapes: {@code [B, 3, T, H, W] -> [B, 2*latent, t, H/8, W/8]}. Thread safety: immutable.
 */
final class Encoder3D {
    private final CausalConv3d convIn;
    private final List<List<ResnetBlock3D>> downResnets = new ArrayList<>();
    private final List<Downsample3D> downsamplers = new ArrayList<>();
    private final List<ResnetBlock3D> mid = new ArrayList<>();
    private final GroupNorm normOut;
    private final CausalConv3d convOut;

    Encoder3D(VaeConfig c, Params p) {
        List<Integer> ch = c.blockOutChannels();
        convIn = new CausalConv3d("encoder.conv_in", c.inChannels(), ch.get(0), 3, p);
        int out = ch.get(0);
        for (int i = 0; i < ch.size(); i++) {
            int in = out;
            out = ch.get(i);
            List<ResnetBlock3D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock(); j++) {
                resnets.add(new ResnetBlock3D("encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out,
                        c.normNumGroups(), c.normEps(), 0, p));
            }
            downResnets.add(resnets);
            boolean last = i == ch.size() - 1;
            downsamplers.add(last ? null : new Downsample3D("encoder.down_blocks." + i + ".downsamplers.0", out,
                    i < c.temporalCompressLevel(), p));
        }
        int top = ch.get(ch.size() - 1);
        for (int j = 0; j < 2; j++) {
            mid.add(new ResnetBlock3D("encoder.mid_block.resnets." + j, top, top, c.normNumGroups(), c.normEps(), 0,
                    p));
        }
        normOut = new GroupNorm("encoder.norm_out", top, c.normNumGroups(), 1e-6, p);
        convOut = new CausalConv3d("encoder.conv_out", top, 2 * c.latentChannels(), 3, p);
    }

    /**
     * @param x one frame chunk {@code [B, 3, T, H, W]}
     * @param cache the conv caches of this pass (read and updated)
     * @param probe receives {@code (module, output)} for encoder.down_blocks.i, encoder.mid_block, encoder.conv_out
     *     (the arrays are freed after the call), or {@code null}
     * @return {@code [B, 2*latent, t, h, w]} in x's manager
     */
    NDArray forward(NDArray x, ConvCache cache, BiConsumer<String, NDArray> probe) {
        // 1. conv_in
        NDArray h = convIn.forward(x, cache);
        // 2. down blocks
        for (int i = 0; i < downResnets.size(); i++) {
            for (ResnetBlock3D r : downResnets.get(i)) {
                try (NDArray prev = h) {
                    h = r.forward(prev, null, cache);
                }
            }
            if (downsamplers.get(i) != null) {
                try (NDArray prev = h) {
                    h = downsamplers.get(i).forward(prev);
                }
            }
            emit(probe, "encoder.down_blocks." + i, h);
        }
        // 3. mid block
        for (ResnetBlock3D r : mid) {
            try (NDArray prev = h) {
                h = r.forward(prev, null, cache);
            }
        }
        emit(probe, "encoder.mid_block", h);
        // 4. norm_out -> silu -> conv_out
        NDArray last = h;
        try (last; NDArray n = normOut.forward(last); NDArray a = Ops.silu(n)) {
            NDArray out = convOut.forward(a, cache);
            emit(probe, "encoder.conv_out", out);
            return out;
        }
    }

    static void emit(BiConsumer<String, NDArray> probe, String module, NDArray value) {
        if (probe != null) {
            probe.accept(module, value);
        }
    }
}
