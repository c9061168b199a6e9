package io.github.cogvideox4j.data.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.io.AtomicFiles;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * A PNG grid of all frames of a video: frame {@code k} at column {@code k % columns}, row {@code k / columns}, each
 * cell {@code W x H} pixels with no border; unused cells of the last row are black. Pixels are
 * {@code round(clamp(x, 0, 1) * 255)}, as {@link VideoWriter}.
 *
 * <p>The PNG is written to a temporary sibling and moved over the target, so readers never see a partial image.
 *
 * <p>Thread safety: stateless.
 */
public final class ContactSheet {
    private ContactSheet() {}

    /**
     * Writes the contact sheet of {@code video}.
     *
     * @param png the output file (its parent folder must exist); replaced if present
     * @param video FLOAT32 {@code [F, 3, H, W]} in [0, 1]; not modified, still owned by the caller
     * @param columns frames per row (&gt;= 1; fewer are used when the video has fewer frames)
     * @return {@code png}
     * @throws IOException if the image cannot be written
     * @throws IllegalArgumentException if the shape, type or column count is invalid
     */
    public static Path write(Path png, NDArray video, int columns) throws IOException {
        Preconditions.checkNotNull(png, "png");
        Preconditions.checkArgument(columns >= 1, "columns must be >= 1, got %s", columns);
        Shape s = MediaFiles.checkVideo(video);
        int frames = Math.toIntExact(s.get(0));
        int height = Math.toIntExact(s.get(2));
        int width = Math.toIntExact(s.get(3));
        int cols = Math.min(columns, frames);
        int rows = (frames + cols - 1) / cols;
        BufferedImage img = new BufferedImage(cols * width, rows * height, BufferedImage.TYPE_INT_RGB);
        float[] pixels = video.toFloatArray();
        byte[] rgb = new byte[height * width * 3];
        for (int k = 0; k < frames; k++) {
            VideoWriter.packRgb(pixels, k, height, width, rgb);
            int x0 = (k % cols) * width;
            int y0 = (k / cols) * height;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int i = (y * width + x) * 3;
                    int v = ((rgb[i] & 0xff) << 16) | ((rgb[i + 1] & 0xff) << 8) | (rgb[i + 2] & 0xff);
                    img.setRGB(x0 + x, y0 + y, v);
                }
            }
        }
        return AtomicFiles.write(png, out -> {
            if (!ImageIO.write(img, "png", out)) {
                throw new IOException(png + ": no ImageIO PNG writer");
            }
        });
    }
}
