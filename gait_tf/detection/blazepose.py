"""BlazePose (MediaPipe, Apache-2.0) person detector and landmark model on LiteRT.

The ``.tflite`` files come from the ``mediapipe`` wheel through :mod:`gait_tf.assets`
(``gait-tf models fetch``); this module re-implements the pre- and post-processing of
MediaPipe's pose graphs around them (read from MediaPipe's graph configs; no MediaPipe code):

* :class:`PoseDetector` - ``pose_detection.tflite``: a letterboxed 224x224 RGB image in
  [-1, 1] -> 2254 SSD anchors, each a box and 4 keypoints (hip centre, body-circle
  point, shoulder centre, upper-body point); sigmoid scores, weighted NMS (IoU 0.3).
* :class:`PoseLandmarker` - ``pose_landmark_full.tflite``: a 256x256 RGB crop in [0, 1]
  of a person ROI -> 39 landmarks ``(x, y, z, visibility, presence)`` (33 body points
  and 2 alignment points for the next ROI), a pose-presence score and a 256x256
  segmentation mask of that person, all in crop coordinates, mapped back here.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from gait_tf.detection.roi import ROI
from gait_tf.errors import AssetError

#: names of the 33 BlazePose body landmarks (index order of the model)
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
NUM_BODY = 33


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


def load_interpreter(asset_name, num_threads=2):
    """A LiteRT interpreter of a cached pretrained part (``ai_edge_litert``; falls back to ``tf.lite``)."""
    from gait_tf.assets import asset_path

    path = str(asset_path(asset_name))
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - ai-edge-litert is a dependency
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    try:
        interp = Interpreter(model_path=path, num_threads=num_threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise AssetError(f"{path}: not a loadable LiteRT model ({exc})") from None
    return interp


def ssd_anchors(input_size=224, strides=(8, 16, 32, 32, 32), anchors_per_layer=2):
    """Centres ``float32 [N, 2]`` (normalised) of BlazePose's SSD anchors (fixed size 1):
    layers of equal stride share a grid; each grid cell gets ``anchors_per_layer`` anchors
    per layer (2254 for the defaults)."""
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = int(np.ceil(input_size / strides[i]))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], -1)
        out.append(np.repeat(grid, anchors_per_layer * (j - i), axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclasses.dataclass
class PoseDetection:
    """A BlazePose detection in image pixels: ``box (x0, y0, x1, y1)``, ``score`` in [0, 1],
    ``keypoints float32 [4, 2]`` (hip centre, body-circle point, shoulder centre, upper-body point)."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray

    def roi(self) -> ROI:
        return ROI.from_alignment(self.keypoints[0], self.keypoints[1])


def weighted_nms(boxes, scores, extra, iou_threshold=0.3):
    """MediaPipe's weighted NMS: clusters of IoU > threshold around the best remaining
    box are replaced by their score-weighted mean (boxes and ``extra``); keeps the best score.
    ``boxes [N, 4]`` (x0, y0, x1, y1), ``scores [N]``, ``extra [N, K]``. Returns lists."""
    from gait_tf.segmentation.tracking import box_iou

    order = np.argsort(-scores)
    boxes, scores, extra = boxes[order], scores[order], extra[order]
    out = []
    remaining = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        iou = box_iou(boxes[i:i + 1], boxes)[0]
        members = remaining & (iou > iou_threshold)
        members[i] = True
        w = scores[members][:, None]
        out.append(((boxes[members] * w).sum(0) / w.sum(), float(scores[i]), (extra[members] * w).sum(0) / w.sum()))
        remaining &= ~members
    return out


class PoseDetector:
    """BlazePose person detector: ``detect(image)`` -> list of :class:`PoseDetection`.

    ``image`` is ``uint8 [H, W, 3]`` RGB of any size; it is letterboxed to 224x224. Small
    people (under ~1/4 of the image's longer side) are often missed: :meth:`detect_tiled`
    runs it over overlapping tiles as well.
    """

    INPUT = 224

    def __init__(self, min_score=0.5, iou_threshold=0.3, num_threads=2):
        self.min_score, self.iou_threshold = float(min_score), float(iou_threshold)
        self.interp = load_interpreter("blazepose_detector", num_threads)
        self._in = self.interp.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self.interp.get_output_details()}
        self._reg, self._cls = outs["Identity"], outs["Identity_1"]
        self.anchors = ssd_anchors(self.INPUT)

    def _letterbox(self, image):
        import cv2

        h, w = image.shape[:2]
        s = self.INPUT / max(h, w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        canvas = np.zeros((self.INPUT, self.INPUT, 3), np.float32) - 1.0
        oy, ox = (self.INPUT - nh) // 2, (self.INPUT - nw) // 2
        canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA
                                                    ).astype(np.float32) / 127.5 - 1.0
        return canvas, s, ox, oy

    def detect(self, image, offset=(0, 0)) -> list:
        """Detections in ``image`` (pixels, shifted by ``offset`` (x, y))."""
        canvas, s, ox, oy = self._letterbox(image)
        self.interp.set_tensor(self._in, canvas[None])
        self.interp.invoke()
        reg = self.interp.get_tensor(self._reg)[0]
        score = _sigmoid(self.interp.get_tensor(self._cls)[0, :, 0])
        keep = score >= self.min_score
        if not keep.any():
            return []
        reg, score, anchors = reg[keep], score[keep], self.anchors[keep]
        n = float(self.INPUT)
        cx = reg[:, 0] / n + anchors[:, 0]
        cy = reg[:, 1] / n + anchors[:, 1]
        w, h = reg[:, 2] / n, reg[:, 3] / n
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
        kps = reg[:, 4:12].reshape(-1, 4, 2) / n + anchors[:, None, :]
        out = []
        for box, sc, kp in weighted_nms(boxes, score, kps.reshape(len(kps), -1), self.iou_threshold):
            # normalised letterbox coordinates -> image pixels
            box = (box * n - np.array([ox, oy, ox, oy])) / s + np.array([*offset, *offset])
            kp = (kp.reshape(4, 2) * n - np.array([ox, oy])) / s + np.asarray(offset)
            out.append(PoseDetection(box.astype(np.float32), sc, kp.astype(np.float32)))
        return out

    def detect_tiled(self, image, tiles=(1, 2, 3), overlap=0.25) -> list:
        """Detections over the whole image and over ``k x k`` overlapping tiles for each
        ``k`` in ``tiles``, merged by weighted NMS (slower; for still images)."""
        h, w = image.shape[:2]
        found = []
        for k in tiles:
            if k == 1:
                found += self.detect(image)
                continue
            th, tw = int(np.ceil(h / (k - (k - 1) * overlap))), int(np.ceil(w / (k - (k - 1) * overlap)))
            if min(th, tw) < 48:  # tiles this small hold no detectable person
                continue
            ys = np.linspace(0, h - th, k).astype(int) if h > th else [0]
            xs = np.linspace(0, w - tw, k).astype(int) if w > tw else [0]
            for y in ys:
                for x in xs:
                    found += self.detect(image[y:y + th, x:x + tw], offset=(x, y))
        if not found:
            return []
        boxes = np.stack([d.box for d in found])
        scores = np.array([d.score for d in found])
        kps = np.stack([d.keypoints.ravel() for d in found])
        return [PoseDetection(b.astype(np.float32), s, k.reshape(4, 2).astype(np.float32))
                for b, s, k in weighted_nms(boxes, scores, kps, self.iou_threshold)]


@dataclasses.dataclass
class Landmarks:
    """One person's BlazePose landmark result in image pixels.

    Attributes:
        keypoints: ``float32 [33, 3]`` ``(x, y, score)``: score = visibility x presence, in [0, 1].
        z: ``float32 [33]`` relative depth (crop-size units; smaller is nearer).
        presence: the model's pose-presence score in [0, 1] (is there a person in the ROI).
        roi: the ROI the landmarks were computed in.
        next_roi: the ROI for the next frame, from the alignment landmarks.
        mask_box: integer box ``(x0, y0, x1, y1)`` of ``mask_prob`` in the image.
        mask_prob: ``float32 [h, w]`` person probability over ``mask_box`` (None if the ROI
            left the image).
    """

    keypoints: np.ndarray
    z: np.ndarray
    presence: float
    roi: ROI
    next_roi: ROI
    mask_box: tuple | None = None
    mask_prob: np.ndarray | None = None

    def box(self, min_score=0.3) -> np.ndarray:
        """Box ``(x0, y0, x1, y1)`` around the confident keypoints (all if none is confident)."""
        kp = self.keypoints
        sel = kp[:, 2] >= min_score
        pts = kp[sel, :2] if sel.sum() >= 2 else kp[:, :2]
        return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


class PoseLandmarker:
    """BlazePose landmark model on one person ROI: ``run(image, roi)`` -> :class:`Landmarks`."""

    INPUT = 256
    NUM_LANDMARKS = 39

    def __init__(self, num_threads=2, with_mask=True):
        self.with_mask = with_mask
        self.interp = load_interpreter("blazepose_landmark_full", num_threads)
        self._in = self.interp.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self.interp.get_output_details()}
        self._lm, self._flag, self._seg = outs["Identity"], outs["Identity_1"], outs["Identity_2"]

    def run(self, image, roi: ROI) -> Landmarks:
        """Landmarks and mask of the person in ``roi`` of ``image`` (``uint8 [H, W, 3]`` RGB)."""
        n = self.INPUT
        crop = roi.crop(image, n).astype(np.float32) * (1.0 / 255.0)
        self.interp.set_tensor(self._in, crop[None])
        self.interp.invoke()
        raw = self.interp.get_tensor(self._lm)[0].reshape(self.NUM_LANDMARKS, 5)
        presence = float(self.interp.get_tensor(self._flag)[0, 0])  # already a probability
        xy = roi.to_image(raw[:, :2] / n)
        vis = _sigmoid(raw[:, 3]) * _sigmoid(raw[:, 4])
        kp = np.concatenate([xy[:NUM_BODY], vis[:NUM_BODY, None]], 1).astype(np.float32)
        z = (raw[:NUM_BODY, 2] / n).astype(np.float32)
        next_roi = ROI.from_alignment(xy[33], xy[34])
        out = Landmarks(kp, z, presence, roi, next_roi)
        if self.with_mask:
            seg = _sigmoid(self.interp.get_tensor(self._seg)[0, :, :, 0]).astype(np.float32)
            pasted = roi.paste(seg, image.shape)
            if pasted is not None:
                out.mask_box, out.mask_prob = pasted
        return out
