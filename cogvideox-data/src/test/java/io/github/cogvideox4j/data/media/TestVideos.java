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
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
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
 * Writes tiny test videos at test time with the same FFmpeg binding (encoder {@code mpeg4}, which the LGPL build
 * has; quality fixed at qscale 2), and test images with ImageIO.
 */
public final class TestVideos {
    /** RGB colour of pixel (x, y) of frame k, as 0xRRGGBB. */
    @FunctionalInterface
    public interface Painter {
        int rgb(int frame, int x, int y);
    }

    private TestVideos() {}

    /** Flat grey frames whose level encodes the frame index: {@link #grey(int)}. */
    public static Painter greyByFrame() {
        return (k, x, y) -> {
            int g = grey(k);
            return (g << 16) | (g << 8) | g;
        };
    }

    /** The grey level of frame k in {@link #greyByFrame()} videos (distinct for k < 30). */
    public static int grey(int frame) {
        return 20 + 7 * (frame % 30);
    }

    /**
     * Encodes a video.
     *
     * @param file output (container from the extension: .mp4, .mkv, .avi)
     * @param width even width
     * @param height even height
     * @param frames frame count
     * @param fps frame rate
     * @param painter pixel colours
     * @return {@code file}
     */
    public static Path writeVideo(Path file, int width, int height, int frames, int fps, Painter painter) {
        AVFormatContext oc = new AVFormatContext(null);
        check("alloc output", avformat_alloc_output_context2(oc, null, null, file.toString()));
        AVCodec codec = avcodec_find_encoder_by_name("mpeg4");
        AVCodecContext c = avcodec_alloc_context3(codec);
        c.width(width);
        c.height(height);
        c.time_base(av_make_q(1, fps));
        c.framerate(av_make_q(fps, 1));
        c.pix_fmt(AV_PIX_FMT_YUV420P);
        c.gop_size(8);
        c.max_b_frames(0);
        c.flags(c.flags() | AV_CODEC_FLAG_QSCALE);
        c.global_quality(FF_QP2LAMBDA * 2);
        if ((oc.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
            c.flags(c.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
        }
        check("open encoder", avcodec_open2(c, codec, (AVDictionary) null));
        AVStream st = avformat_new_stream(oc, null);
        check("stream params", avcodec_parameters_from_context(st.codecpar(), c));
        st.time_base(c.time_base());
        AVIOContext pb = new AVIOContext(null);
        check("avio_open", avio_open(pb, file.toString(), AVIO_FLAG_WRITE));
        oc.pb(pb);
        check("write header", avformat_write_header(oc, (AVDictionary) null));

        AVFrame yuv = av_frame_alloc();
        yuv.format(AV_PIX_FMT_YUV420P);
        yuv.width(width);
        yuv.height(height);
        check("frame buffer", av_frame_get_buffer(yuv, 0));
        SwsContext sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                SWS_BICUBIC, (SwsFilter) null, (SwsFilter) null, (DoublePointer) null);
        BytePointer rgb = new BytePointer((long) width * height * 3);
        PointerPointer<BytePointer> src = new PointerPointer<BytePointer>(4).put(0, rgb);
        IntPointer srcStride = new IntPointer(width * 3, 0, 0, 0);
        AVPacket pkt = av_packet_alloc();
        byte[] buf = new byte[width * height * 3];
        for (int k = 0; k < frames; k++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int v = painter.rgb(k, x, y);
                    int i = (y * width + x) * 3;
                    buf[i] = (byte) (v >> 16);
                    buf[i + 1] = (byte) (v >> 8);
                    buf[i + 2] = (byte) v;
                }
            }
            rgb.position(0).put(buf);
            check("writable", av_frame_make_writable(yuv));
            sws_scale(sws, src, srcStride, 0, height, yuv.data(), yuv.linesize());
            yuv.pts(k);
            check("send frame", avcodec_send_frame(c, yuv));
            drain(oc, c, st, pkt);
        }
        check("flush", avcodec_send_frame(c, null));
        drain(oc, c, st, pkt);
        check("trailer", av_write_trailer(oc));
        avio_closep(oc.pb());
        av_packet_free(pkt);
        av_frame_free(yuv);
        sws_freeContext(sws);
        src.close();
        srcStride.close();
        rgb.close();
        avcodec_free_context(c);
        avformat_free_context(oc);
        return file;
    }

    /**
     * Writes a PNG.
     *
     * @param file output
     * @param width width
     * @param height height
     * @param painter colours (frame 0)
     * @return {@code file}
     * @throws IOException if writing fails
     */
    public static Path writePng(Path file, int width, int height, Painter painter) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, painter.rgb(0, x, y));
            }
        }
        ImageIO.write(img, "png", file.toFile());
        return file;
    }

    private static void drain(AVFormatContext oc, AVCodecContext c, AVStream st, AVPacket pkt) {
        while (true) {
            int r = avcodec_receive_packet(c, pkt);
            if (r == -11 || r == AVERROR_EOF) {
                return;
            }
            check("receive packet", r);
            pkt.duration(1);
            av_packet_rescale_ts(pkt, c.time_base(), st.time_base());
            pkt.stream_index(st.index());
            check("write packet", av_interleaved_write_frame(oc, pkt));
        }
    }

    private static void check(String what, int r) {
        if (r < 0) {
            throw new IllegalStateException(what + " failed: " + r);
        }
    }
}
