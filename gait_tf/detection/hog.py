"""OpenCV's HOG + linear-SVM pedestrian detector (Dalal & Triggs), as a person-box proposer.

It is in the OpenCV 4.x wheels (``cv2.HOGDescriptor_getDefaultPeopleDetector``), needs no
download, and finds upright walkers from about 100 px tall at scale 1; frames are
up-sampled so that people of ``min_height`` pixels are found too. Its boxes are loose (the
64x128 window has margins) and it fires on some upright structures; the landmark model
verifies each box (:mod:`gait_tf.detection.people`).
"""
from __future__ import annotations

import cv2
import numpy as np

#: height of a person inside the detector's 128-px window at scale 1 (px)
HOG_PERSON_HEIGHT = 96.0


class HOGPeopleDetector:
    """``detect(image)`` -> ``(boxes float32 [N, 4] (x0, y0, x1, y1) px, scores float32 [N])``.

    Args:
        min_height: smallest person height to find (px); frames are up-sampled by
            ``HOG_PERSON_HEIGHT / min_height`` when that is > 1 (costs time quadratically).
        scale: pyramid step (OpenCV's default 1.05 is slower and finds little more).
        hit_threshold: SVM margin a window must exceed.
        max_side: the (up-sampled) image's longer side is capped at this many pixels.
    """

    def __init__(self, min_height=80.0, scale=1.1, hit_threshold=0.0, win_stride=8, max_side=1600):
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.min_height, self.scale = float(min_height), float(scale)
        self.hit_threshold, self.win_stride, self.max_side = float(hit_threshold), int(win_stride), int(max_side)

    def upsampling(self, shape) -> float:
        up = max(1.0, HOG_PERSON_HEIGHT / self.min_height)
        return min(up, self.max_side / max(shape[:2]))

    def detect(self, image):
        up = self.upsampling(image.shape)
        h, w = image.shape[:2]
        if h * up < 128 or w * up < 64:  # smaller than one detection window (OpenCV would crash)
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        im = cv2.resize(image, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR) if up != 1.0 else image
        rects, weights = self.hog.detectMultiScale(im, hitThreshold=self.hit_threshold,
                                                   winStride=(self.win_stride, self.win_stride),
                                                   padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        rects = np.asarray(rects, np.float32).reshape(-1, 4) / up
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        return boxes, np.asarray(weights, np.float32).ravel()


def person_box_of(hog_box) -> np.ndarray:
    """The person inside a HOG window box: the central 3/4 of its height, 1/2 of its width."""
    x0, y0, x1, y1 = (float(v) for v in hog_box)
    w, h = x1 - x0, y1 - y0
    return np.array([x0 + w / 4, y0 + h / 8, x1 - w / 4, y1 - h / 8], np.float32)
