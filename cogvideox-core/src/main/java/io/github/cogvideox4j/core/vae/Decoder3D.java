package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * {@code CogVideoXDecoder3D}: conv_in, a mid block of two spatially normalized resnets, up blocks of
 * {@code layers_per_block + 1} resnets followed by an upsampler except in the last block (the first
 * {@code log2(temporal_compression_ratio)} expand time), a spatial norm, SiLU and conv_out. Every norm is conditioned
 * on the chunk's input latents. Runs on one latent frame chunk with conv caches across chunks.
 *
 * <p>Shapes: {@code [B, latent, t, h, w] -> [B, 3, T, 8h, 8w]}. Thread safety: immutable.
 */
final class Decoder3D {
    private final CausalConv3d convIn;
    private final List<ResnetBlock3D> mid = new ArrayList<>();
    private final List<List<ResnetBlock3D>> upResnets = new ArrayList<>();
    private final List<Upsample3D> upsamplers = new ArrayList<>();
    private final SpatialNorm3D normOut;
    private final CausalConv3d convOut;

    Decoder3D(VaeConfig c, Params p) {
        List<Integer> rev = new ArrayList<>(c.blockOutChannels());
        java.util.Collections.reverse(rev);
        int z = c.latentChannels();
        int g = c.normNumGroups();
        convIn = new CausalConv3d("decoder.conv_in", z, rev.get(0), 3, p);
        for (int j = 0; j < 2; j++) {
            mid.add(new ResnetBlock3D("decoder.mid_block.resnets." + j, rev.get(0), rev.get(0), g, c.normEps(), z,
                    p));
        }
        int out = rev.get(0);
        for (int i = 0; i < rev.size(); i++) {
            int in = out;
            out = rev.get(i);
            List<ResnetBlock3D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                resnets.add(new ResnetBlock3D("decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, g,
                        c.normEps(), z, p));
            }
            upResnets.add(resnets);
            boolean last = i == rev.size() - 1;
            upsamplers.add(last ? null : new Upsample3D("decoder.up_blocks." + i + ".upsamplers.0", out,
                    i < c.temporalCompressLevel(), p));
        }
        int bottom = rev.get(rev.size() - 1);
        normOut = new SpatialNorm3D("decoder.norm_out", bottom, z, g, p);
        convOut = new CausalConv3d("decoder.conv_out", bottom, c.outChannels(), 3, p);
    }

    /**
     * @param z one latent frame chunk {@code [B, latent, t, h, w]}
     * @param cache the conv caches of this pass
     * @param probe receives decoder.conv_in, decoder.mid_block, decoder.up_blocks.i outputs, or {@code null}
     * @return {@code [B, 3, T, H, W]} in z's manager
     */
    NDArray forward(NDArray z, ConvCache cache, BiConsumer<String, NDArray> probe) {
        // 1. conv_in
        NDArray h = convIn.forward(z, cache);
        Encoder3D.emit(probe, "decoder.conv_in", h);
        // 2. mid block
        for (ResnetBlock3D r : mid) {
            try (NDArray prev = h) {
                h = r.forward(prev, z, cache);
            }
        }
        Encoder3D.emit(probe, "decoder.mid_block", h);
        // 3. up blocks
        for (int i = 0; i < upResnets.size(); i++) {
            for (ResnetBlock3D r : upResnets.get(i)) {
                try (NDArray prev = h) {
                    h = r.forward(prev, z, cache);
                }
            }
            if (upsamplers.get(i) != null) {
                try (NDArray prev = h) {
                    h = upsamplers.get(i).forward(prev);
                }
            }
            Encoder3D.emit(probe, "decoder.up_blocks." + i, h);
        }
        // 4. spatial norm -> silu -> conv_out
        NDArray last = h;
        try (last; NDArray n = normOut.forward(last, z, cache); NDArray a = Ops.silu(n)) {
            return convOut.forward(a, cache);
        }
    }
}
