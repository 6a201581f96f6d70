"""Person segmentation and tracking: background subtraction, a learned U-Net, box tracking.

See ``docs/video.md``. ``import gait_tf.segmentation`` is light; the U-Net imports Keras
when built or loaded.
"""
from gait_tf.segmentation.background import (BackgroundSubtractor, Detection, clean_mask, detect_people,
                                             largest_component, shadow_mask)
from gait_tf.segmentation.tracking import BoxTracker, Track, box_iou, select_track
from gait_tf.segmentation.unet import DEFAULT_WEIGHTS, UNetSegmenter, build_unet

__all__ = ["BackgroundSubtractor", "BoxTracker", "DEFAULT_WEIGHTS", "Detection", "Track", "UNetSegmenter",
           "box_iou", "build_unet", "clean_mask", "detect_people", "largest_component", "select_track",
           "shadow_mask"]
