package io.github.cogvideox4j.data.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;

/** What the media writers share: the video argument check (their output files go through {@code AtomicFiles}). */
final class MediaFiles {
    private MediaFiles() {}

    /**
     * @param video the array to check
     * @return its shape, {@code [F, 3, H, W]}
     * @throws IllegalArgumentException if it is not a FLOAT32 {@code [F >= 1, 3, H, W]} array
     */
    static Shape checkVideo(NDArray video) {
        Preconditions.checkNotNull(video, "video");
        Shape s = video.getShape();
        Preconditions.checkArgument(s.dimension() == 4 && s.get(1) == 3 && s.get(0) >= 1,
                "video must be [F, 3, H, W], got %s", s);
        Preconditions.checkArgument(video.getDataType() == DataType.FLOAT32, "video must be FLOAT32, got %s",
                video.getDataType());
        return s;
    }
}
