package io.github.cogvideox4j.data.media;

import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_LOG_ERROR;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_log_set_level;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCachedContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.manifest.MediaType;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVCodecParameters;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.ffmpeg.swscale.SwsFilter;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Probes and decodes media: videos through FFmpeg (JavaCPP {@code org.bytedeco:ffmpeg}, natives from its
 * platform jar, no system ffmpeg), images through ImageIO.
 *
 * <p>Frames are counted and indexed in decode (presentation) order of the best video stream, as decord and
 * torchvision index them. Frame count: the container's {@code nb_frames} when it states one, else the packets of
 * the stream are counted (demuxing only, no decoding). Scaling to the requested size is bicubic (FFmpeg swscale
 * for videos, Java2D for images); output is packed RGB24, row-major.
 *
 * <p>On first use FFmpeg's global log level is set to {@code AV_LOG_ERROR} so that decoders do not write
 * warnings to stderr; errors surface as {@link MediaDecodeException}s naming the file.
 *
 * <p>Thread safety: stateless; every call opens its own FFmpeg contexts, so concurrent calls are safe.
 */
public final class FfmpegMedia implements MediaProber {
    /** {@code AVERROR(EAGAIN)} on Linux ({@code -EAGAIN}); the presets export no function for it. */
    private static final int AVERROR_EAGAIN = -11;

    static {
        av_log_set_level(AV_LOG_ERROR);
    }

    /** Creates the (stateless) prober/decoder. */
    public FfmpegMedia() {}

    /**
     * {@inheritDoc}
     *
     * <p>The type comes from the extension ({@link MediaType#fromExtension}); unknown extensions are probed as
     * videos.
     */
    @Override
    public MediaInfo probe(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        if (MediaType.fromExtension(file).orElse(MediaType.VIDEO) == MediaType.IMAGE) {
            return probeImage(file);
        }
        return probeVideo(file);
    }

    /**
     * Decodes the given frames, scaled to {@code scaledHeight x scaledWidth}.
     *
     * @param file a video (or an image: then every index must be 0)
     * @param frameIndices frame indices in decode order, any order, repeats allowed; each {@code >= 0}
     * @param scaledHeight output height
     * @param scaledWidth output width
     * @return one packed RGB24 array ({@code scaledHeight * scaledWidth * 3} bytes) per requested index, in the
     *     order requested (repeated indices share one array)
     * @throws IOException if the file cannot be read
     * @throws MediaDecodeException if decoding fails or an index is past the last decoded frame
     */
    public List<byte[]> decodeRgb(Path file, int[] frameIndices, int scaledHeight, int scaledWidth)
            throws IOException {
        Objects.requireNonNull(file, "file");
        Preconditions.checkArgument(frameIndices.length > 0, "no frame indices");
        Preconditions.checkArgument(scaledHeight > 0 && scaledWidth > 0, "size must be positive");
        for (int idx : frameIndices) {
            Preconditions.checkArgument(idx >= 0, "%s: negative frame index %s", file, idx);
        }
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        if (MediaType.fromExtension(file).orElse(MediaType.VIDEO) == MediaType.IMAGE) {
            for (int idx : frameIndices) {
                if (idx != 0) {
                    throw new MediaDecodeException(file, "frame index " + idx + " requested from an image (only 0)");
                }
            }
            byte[] rgb = scaleImage(readImage(file), scaledHeight, scaledWidth);
            List<byte[]> out = new ArrayList<>();
            for (int i = 0; i < frameIndices.length; i++) {
                out.add(rgb);
            }
            return out;
        }
        return decodeVideo(file, frameIndices, scaledHeight, scaledWidth);
    }

    /**
     * Reads an image with ImageIO.
     *
     * @param file the image
     * @return the decoded image
     * @throws IOException if it cannot be read
     * @throws MediaDecodeException if no ImageIO reader understands it
     */
    public static BufferedImage readImage(Path file) throws IOException {
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) {
            throw new MediaDecodeException(file, "no ImageIO reader for this image format");
        }
        return img;
    }

    // ---------------------------------------------------------------------------------------------------------

    private static MediaInfo probeImage(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new MediaDecodeException(file, "no ImageIO reader for this image format");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return new MediaInfo(MediaType.IMAGE, 1, 0, reader.getHeight(0), reader.getWidth(0));
            } finally {
                reader.dispose();
            }
        }
    }

    private static MediaInfo probeVideo(Path file) {
        AVFormatContext fmt = open(file);
        AVPacket pkt = null;
        try {
            int stream = bestVideoStream(file, fmt);
            AVStream st = fmt.streams(stream);
            AVCodecParameters par = st.codecpar();
            long frames = st.nb_frames();
            if (frames <= 0) {
                pkt = av_packet_alloc();
                frames = 0;
                int r;
                while ((r = av_read_frame(fmt, pkt)) >= 0) {
                    if (pkt.stream_index() == stream) {
                        frames++;
                    }
                    av_packet_unref(pkt);
                }
                if (r != AVERROR_EOF) {
                    throw new MediaDecodeException(file, "reading packets failed: " + error(r));
                }
            }
            if (frames <= 0) {
                throw new MediaDecodeException(file, "video stream has no frames");
            }
            double fps = rate(st.avg_frame_rate());
            if (fps <= 0) {
                fps = rate(st.r_frame_rate());
            }
            return new MediaInfo(MediaType.VIDEO, Math.toIntExact(frames), fps, par.height(), par.width());
        } finally {
            if (pkt != null) {
                av_packet_free(pkt);
            }
            avformat_close_input(fmt);
        }
    }

    private static List<byte[]> decodeVideo(Path file, int[] frameIndices, int outH, int outW) {
        int maxIndex = Arrays.stream(frameIndices).max().getAsInt();
        byte[][] byIndex = new byte[maxIndex + 1][];
        boolean[] wanted = new boolean[maxIndex + 1];
        for (int idx : frameIndices) {
            wanted[idx] = true;
        }
        AVFormatContext fmt = open(file);
        AVCodecContext ctx = null;
        AVPacket pkt = null;
        AVFrame frame = null;
        Scaler scaler = new Scaler(outH, outW);
        try {
            int stream = bestVideoStream(file, fmt);
            AVCodecParameters par = fmt.streams(stream).codecpar();
            AVCodec codec = avcodec_find_decoder(par.codec_id());
            if (codec == null || codec.isNull()) {
                throw new MediaDecodeException(file, "no FFmpeg decoder for codec id " + par.codec_id());
            }
            ctx = avcodec_alloc_context3(codec);
            check(file, "copying codec parameters", avcodec_parameters_to_context(ctx, par));
            check(file, "opening decoder " + codec.name().getString(), avcodec_open2(ctx, codec, (AVDictionary) null));
            pkt = av_packet_alloc();
            frame = av_frame_alloc();
            int[] next = {0};
            boolean done = false;
            while (!done) {
                int r = av_read_frame(fmt, pkt);
                if (r == AVERROR_EOF) {
                    break;
                }
                check(file, "reading a packet", r);
                if (pkt.stream_index() == stream) {
                    int s;
                    while ((s = avcodec_send_packet(ctx, pkt)) == AVERROR_EAGAIN && !done) {
                        // decoder full: take frames out, then send the same packet again
                        done = receive(file, ctx, frame, scaler, next, wanted, byIndex, maxIndex);
                    }
                    av_packet_unref(pkt);
                    if (!done) {
                        check(file, "sending a packet to the decoder", s);
                        done = receive(file, ctx, frame, scaler, next, wanted, byIndex, maxIndex);
                    }
                } else {
                    av_packet_unref(pkt);
                }
            }
            if (!done) {
                check(file, "flushing the decoder", avcodec_send_packet(ctx, null));
                receive(file, ctx, frame, scaler, next, wanted, byIndex, maxIndex);
            }
            if (next[0] <= maxIndex) {
                throw new MediaDecodeException(file, "frame index " + maxIndex + " requested, but the video has only "
                        + next[0] + " decoded frames");
            }
        } finally {
            scaler.close();
            if (frame != null) {
                av_frame_free(frame);
            }
            if (pkt != null) {
                av_packet_free(pkt);
            }
            if (ctx != null) {
                avcodec_free_context(ctx);
            }
            avformat_close_input(fmt);
        }
        List<byte[]> out = new ArrayList<>(frameIndices.length);
        for (int idx : frameIndices) {
            out.add(byIndex[idx]);
        }
        return out;
    }

    /** Drains decoded frames; returns true once the last wanted frame is converted. */
    private static boolean receive(Path file, AVCodecContext ctx, AVFrame frame, Scaler scaler, int[] next,
            boolean[] wanted, byte[][] byIndex, int maxIndex) {
        while (true) {
            int r = avcodec_receive_frame(ctx, frame);
            if (r == AVERROR_EAGAIN || r == AVERROR_EOF) {
                return false;
            }
            check(file, "decoding a frame", r);
            int index = next[0]++;
            if (index <= maxIndex && wanted[index]) {
                byIndex[index] = scaler.toRgb(file, frame);
            }
            if (index >= maxIndex) {
                return true;
            }
        }
    }

    /** A swscale context reused across frames of one decode call, with its output buffer. */
    private static final class Scaler implements AutoCloseable {
        private final int outH;
        private final int outW;
        private final BytePointer buffer;
        private final PointerPointer<?> dst;
        private final IntPointer dstStride;
        private SwsContext sws;

        Scaler(int outH, int outW) {
            this.outH = outH;
            this.outW = outW;
            this.buffer = new BytePointer((long) outH * outW * 3);
            this.dst = new PointerPointer<BytePointer>(4).put(0, buffer);
            this.dstStride = new IntPointer(outW * 3, 0, 0, 0);
        }

        byte[] toRgb(Path file, AVFrame frame) {
            sws = sws_getCachedContext(sws, frame.width(), frame.height(), frame.format(), outW, outH,
                    AV_PIX_FMT_RGB24, SWS_BICUBIC, (SwsFilter) null, (SwsFilter) null, (DoublePointer) null);
            if (sws == null || sws.isNull()) {
                throw new MediaDecodeException(file, "no swscale conversion from pixel format " + frame.format()
                        + " " + frame.width() + "x" + frame.height() + " to RGB24 " + outW + "x" + outH);
            }
            int rows = sws_scale(sws, frame.data(), frame.linesize(), 0, frame.height(), dst, dstStride);
            if (rows != outH) {
                throw new MediaDecodeException(file, "swscale produced " + rows + " rows, expected " + outH);
            }
            byte[] rgb = new byte[outH * outW * 3];
            buffer.position(0).get(rgb);
            return rgb;
        }

        @Override
        public void close() {
            if (sws != null) {
                sws_freeContext(sws);
            }
            dst.close();
            dstStride.close();
            buffer.close();
        }
    }

    private static byte[] scaleImage(BufferedImage src, int outH, int outW) {
        BufferedImage dst = new BufferedImage(outW, outH, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = dst.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(src, 0, 0, outW, outH, null);
        } finally {
            g.dispose();
        }
        byte[] bgr = ((java.awt.image.DataBufferByte) dst.getRaster().getDataBuffer()).getData();
        byte[] rgb = new byte[bgr.length];
        for (int i = 0; i < bgr.length; i += 3) {
            rgb[i] = bgr[i + 2];
            rgb[i + 1] = bgr[i + 1];
            rgb[i + 2] = bgr[i];
        }
        return rgb;
    }

    private static AVFormatContext open(Path file) {
        AVFormatContext fmt = new AVFormatContext(null);
        int r = avformat_open_input(fmt, file.toAbsolutePath().toString(), null, null);
        if (r < 0) {
            throw new MediaDecodeException(file, "FFmpeg cannot open the file: " + error(r));
        }
        r = avformat_find_stream_info(fmt, (PointerPointer<?>) null);
        if (r < 0) {
            avformat_close_input(fmt);
            throw new MediaDecodeException(file, "FFmpeg cannot read stream info: " + error(r));
        }
        return fmt;
    }

    private static int bestVideoStream(Path file, AVFormatContext fmt) {
        int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0);
        if (stream < 0) {
            throw new MediaDecodeException(file, "no video stream: " + error(stream));
        }
        return stream;
    }

    private static double rate(AVRational r) {
        return r == null || r.den() == 0 ? 0 : (double) r.num() / r.den();
    }

    private static void check(Path file, String what, int r) {
        if (r < 0) {
            throw new MediaDecodeException(file, what + " failed: " + error(r));
        }
    }

    private static String error(int code) {
        byte[] buf = new byte[256];
        av_strerror(code, buf, buf.length);
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8) + " (" + code + ")";
    }
}
