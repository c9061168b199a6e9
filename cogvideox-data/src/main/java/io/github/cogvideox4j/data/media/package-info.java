/**
 * Media probing, decoding and writing: frame count, fps and size of videos (FFmpeg through JavaCPP, no system
 * ffmpeg) and images (ImageIO), a persistent probe cache, decoding a clip to a bucket as a {@code [F, 3, H, W]}
 * tensor in [-1, 1], and writing a generated video back to an MP4 and a PNG contact sheet.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.data.media.MediaInfo} — what a probe finds;</li>
 *   <li>{@link io.github.cogvideox4j.data.media.MediaProber} — the probing contract;
 *       {@link io.github.cogvideox4j.data.media.FfmpegMedia} implements it and decodes RGB frames;</li>
 *   <li>{@link io.github.cogvideox4j.data.media.ProbeCache} — probes (and content hashes) persisted per file;</li>
 *   <li>{@link io.github.cogvideox4j.data.media.ResizeMode} and
 *       {@link io.github.cogvideox4j.data.media.ResizePlan} — how a frame meets the bucket;</li>
 *   <li>{@link io.github.cogvideox4j.data.media.ClipDecoder} — file + frame indices + bucket to a tensor;</li>
 *   <li>{@link io.github.cogvideox4j.data.media.VideoWriter} and
 *       {@link io.github.cogvideox4j.data.media.ContactSheet} — the other way: a {@code [F, 3, H, W]} tensor in
 *       [0, 1] to an MP4 (mpeg4, yuv420p) or a PNG grid of its frames.</li>
 * </ul>
 *
 * <p>Natives: the FFmpeg classes need {@code org.bytedeco:ffmpeg} and {@code org.bytedeco:javacpp} with the
 * platform classifier jars ({@code linux-x86_64}) at run time; this module declares them optional, so an
 * application that decodes videos adds them itself.
 */
package io.github.cogvideox4j.data.media;
