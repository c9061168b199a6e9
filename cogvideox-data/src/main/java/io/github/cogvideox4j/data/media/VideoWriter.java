package io.github.cogvideox4j.data.media;

import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_GLOBAL_HEADER;
import static org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_FLAG_QSCALE;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_rescale_ts;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_encoder_by_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_from_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_packet;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_frame;
import static org.bytedeco.ffmpeg.global.avformat.AVFMT_GLOBALHEADER;
import static org.bytedeco.ffmpeg.global.avformat.AVIO_FLAG_WRITE;
import static org.bytedeco.ffmpeg.global.avformat.av_interleaved_write_frame;
import static org.bytedeco.ffmpeg.global.avformat.av_write_trailer;
import static org.bytedeco.ffmpeg.global.avformat.avformat_alloc_output_context2;
import static org.bytedeco.ffmpeg.global.avformat.avformat_free_context;
import static org.bytedeco.ffmpeg.global.avformat.avformat_new_stream;
import static org.bytedeco.ffmpeg.global.avformat.avformat_write_header;
import static org.bytedeco.ffmpeg.global.avformat.avio_closep;
import static org.bytedeco.ffmpeg.global.avformat.avio_open;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;
import static org.bytedeco.ffmpeg.global.avutil.FF_QP2LAMBDA;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_get_buffer;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_make_writable;
import static org.bytedeco.ffmpeg.global.avutil.av_make_q;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.ffmpeg.swscale.SwsFilter;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Encodes a video tensor to an MP4 file with FFmpeg (JavaCPP {@code org.bytedeco:ffmpeg}, the same natives as
 * {@link FfmpegMedia}; no system ffmpeg).
 *
 * <p>Encoding: MPEG-4 Part 2 ({@code mpeg4}, in the LGPL natives) at fixed quantiser 2 (near-lossless for previews),
 * no B-frames, GOP 12, pixel format {@code yuv420p} (hence even width and height), constant frame rate. Pixels are
 * {@code round(clamp(x, 0, 1) * 255)} before the RGB to YUV conversion (swscale, bicubic, BT.601 limited range).
 *
 * <p>The file is written to a temporary sibling and moved over {@code mp4} at the end (atomically where the file
 * system allows), so readers never see a half-written video.
 *
 * <p>Thread safety: stateless; every call uses its own FFmpeg contexts, so concurrent calls are safe.
 */
public final class VideoWriter {
    /** {@code AVERROR(EAGAIN)} on Linux. */
    private static final int AVERROR_EAGAIN = -11;
    private static final int QSCALE = 2;
    private static final int GOP = 12;

    private VideoWriter() {}

    /**
     * Writes {@code video} as an MP4.
     *
     * @param mp4 the output file (its parent folder must exist); replaced if present
     * @param video FLOAT32 {@code [F, 3, H, W]} in [0, 1] (values outside are clamped); H and W even; not modified,
     *     still owned by the caller
     * @param fps frame rate (&gt;= 1)
     * @return {@code mp4}
     * @throws IOException if FFmpeg cannot create, encode or write the file (message names the file and the step)
     * @throws IllegalArgumentException if the shape, type, size or frame rate is invalid
     */
    public static Path write(Path mp4, NDArray video, int fps) throws IOException {
        Preconditions.checkNotNull(mp4, "mp4");
        Preconditions.checkArgument(fps >= 1, "fps must be >= 1, got %s", fps);
        Shape s = MediaFiles.checkVideo(video);
        int frames = Math.toIntExact(s.get(0));
        int height = Math.toIntExact(s.get(2));
        int width = Math.toIntExact(s.get(3));
        Preconditions.checkArgument(height % 2 == 0 && width % 2 == 0,
                "yuv420p needs even height and width, got %sx%s", height, width);
        float[] pixels = video.toFloatArray();
        return AtomicFiles.writeFile(mp4, tmp -> encode(tmp, mp4, pixels, frames, height, width, fps));
    }

    /** Packs frame {@code k} of a [F, 3, H, W] float array into RGB24 bytes. */
    static void packRgb(float[] pixels, int k, int height, int width, byte[] out) {
        int plane = height * width;
        int base = k * 3 * plane;
        for (int i = 0; i < plane; i++) {
            out[i * 3] = toByte(pixels[base + i]);
            out[i * 3 + 1] = toByte(pixels[base + plane + i]);
            out[i * 3 + 2] = toByte(pixels[base + 2 * plane + i]);
        }
    }

    /** {@code round(clamp(x, 0, 1) * 255)} as an unsigned byte (NaN maps to 0). */
    static byte toByte(float x) {
        float c = x > 0 ? Math.min(x, 1f) : 0f;
        return (byte) Math.round(c * 255f);
    }

    private static void encode(Path tmp, Path target, float[] pixels, int frames, int height, int width, int fps)
            throws IOException {
        AVFormatContext oc = new AVFormatContext(null);
        AVCodecContext c = null;
        AVFrame yuv = null;
        SwsContext sws = null;
        AVPacket pkt = null;
        BytePointer rgb = null;
        PointerPointer<BytePointer> src = null;
        IntPointer srcStride = null;
        boolean ioOpen = false;
        try {
            check(target, "allocating the mp4 muxer", avformat_alloc_output_context2(oc, null, "mp4", tmp.toString()));
            AVCodec codec = avcodec_find_encoder_by_name("mpeg4");
            if (codec == null || codec.isNull()) {
                throw new IOException(target + ": the FFmpeg natives have no mpeg4 encoder");
            }
            c = avcodec_alloc_context3(codec);
            c.width(width);
            c.height(height);
            c.time_base(av_make_q(1, fps));
            c.framerate(av_make_q(fps, 1));
            c.pix_fmt(AV_PIX_FMT_YUV420P);
            c.gop_size(GOP);
            c.max_b_frames(0);
            c.thread_count(1);
            c.flags(c.flags() | AV_CODEC_FLAG_QSCALE);
            c.global_quality(FF_QP2LAMBDA * QSCALE);
            if ((oc.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
                c.flags(c.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
            }
            check(target, "opening the mpeg4 encoder", avcodec_open2(c, codec, (AVDictionary) null));
            AVStream st = avformat_new_stream(oc, null);
            if (st == null || st.isNull()) {
                throw new IOException(target + ": FFmpeg could not add a video stream");
            }
            check(target, "copying encoder parameters", avcodec_parameters_from_context(st.codecpar(), c));
            st.time_base(c.time_base());
            st.avg_frame_rate(av_make_q(fps, 1));
            AVIOContext pb = new AVIOContext(null);
            check(target, "opening " + tmp + " for writing", avio_open(pb, tmp.toString(), AVIO_FLAG_WRITE));
            oc.pb(pb);
            ioOpen = true;
            check(target, "writing the mp4 header", avformat_write_header(oc, (AVDictionary) null));

            yuv = av_frame_alloc();
            yuv.format(AV_PIX_FMT_YUV420P);
            yuv.width(width);
            yuv.height(height);
            check(target, "allocating a frame", av_frame_get_buffer(yuv, 0));
            sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
                    (SwsFilter) null, (SwsFilter) null, (DoublePointer) null);
            if (sws == null || sws.isNull()) {
                throw new IOException(target + ": no swscale conversion RGB24 to yuv420p at " + width + "x" + height);
            }
            rgb = new BytePointer((long) width * height * 3);
            src = new PointerPointer<BytePointer>(4).put(0, rgb);
            srcStride = new IntPointer(width * 3, 0, 0, 0);
            pkt = av_packet_alloc();
            byte[] buf = new byte[width * height * 3];
            for (int k = 0; k < frames; k++) {
                packRgb(pixels, k, height, width, buf);
                rgb.position(0).put(buf);
                check(target, "making frame " + k + " writable", av_frame_make_writable(yuv));
                sws_scale(sws, src, srcStride, 0, height, yuv.data(), yuv.linesize());
                yuv.pts(k);
                check(target, "encoding frame " + k, avcodec_send_frame(c, yuv));
                drain(target, oc, c, st, pkt);
            }
            check(target, "flushing the encoder", avcodec_send_frame(c, null));
            drain(target, oc, c, st, pkt);
            check(target, "writing the mp4 trailer", av_write_trailer(oc));
        } finally {
            if (ioOpen) {
                avio_closep(oc.pb());
            }
            if (pkt != null) {
                av_packet_free(pkt);
            }
            if (yuv != null) {
                av_frame_free(yuv);
            }
            if (sws != null) {
                sws_freeContext(sws);
            }
            if (src != null) {
                src.close();
            }
            if (srcStride != null) {
                srcStride.close();
            }
            if (rgb != null) {
                rgb.close();
            }
            if (c != null) {
                avcodec_free_context(c);
            }
            avformat_free_context(oc);
        }
    }

    private static void drain(Path target, AVFormatContext oc, AVCodecContext c, AVStream st, AVPacket pkt)
            throws IOException {
        while (true) {
            int r = avcodec_receive_packet(c, pkt);
            if (r == AVERROR_EAGAIN || r == AVERROR_EOF) {
                return;
            }
            check(target, "receiving an encoded packet", r);
            pkt.duration(1);
            av_packet_rescale_ts(pkt, c.time_base(), st.time_base());
            pkt.stream_index(st.index());
            check(target, "writing a packet", av_interleaved_write_frame(oc, pkt));
        }
    }

    private static void check(Path target, String what, int r) throws IOException {
        if (r < 0) {
            byte[] buf = new byte[256];
            av_strerror(r, buf, buf.length);
            int n = 0;
            while (n < buf.length && buf[n] != 0) {
                n++;
            }
            throw new IOException(target + ": " + what + " failed: "
                    + new String(buf, 0, n, StandardCharsets.UTF_8) + " (" + r + ")");
        }
    }
}
