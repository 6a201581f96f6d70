"""Video input/output and the video -> silhouettes -> identity pipeline. See ``docs/video.md``.

``import gait_tf.video`` is light (numpy/OpenCV); TensorFlow is only imported by the
learned segmenter and by :func:`identify_video`.
"""
from gait_tf.video.pipeline import (MIN_FRAMES, SilhouetteTrack, extract_silhouettes, overlay_frames,
                                    write_overlay)
from gait_tf.video.readers import VideoReader, iter_frames, open_video, read_video
from gait_tf.video.writers import draw_overlay, write_video

__all__ = ["MIN_FRAMES", "SilhouetteTrack", "VideoReader", "draw_overlay", "extract_silhouettes",
           "iter_frames", "open_video", "overlay_frames", "read_video", "write_overlay", "write_video"]
