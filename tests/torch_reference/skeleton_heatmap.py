"""NumPy reference of SkeletonGait's keypoint -> heatmap pretreatment (OpenGait
``datasets/pretreatment_heatmap.py`` with ``configs/skeletongait/pretreatment_heatmap.yaml``),
re-implemented from reading the reference, for the parity tests of
:mod:`gait_tf.data.heatmaps`. It uses the same third-party pieces as the reference:
scikit-learn's ``KNNImputer`` (missing joints), matplotlib's ``gray`` colormap (the uint8
quantisation of ``HeatmapToImage``) and OpenCV's ``INTER_AREA`` resize (the alignment).

``reference_heatmaps(pose [T, 17, 3]) -> uint8 [T, 2, 64, 64]`` (channel 0 limbs, 1 joints),
exactly what OpenGait stores; the model input is that ``/ 255`` with 10 columns cut on each side.
"""
import cv2
import numpy as np
from matplotlib import cm
from sklearn.impute import KNNImputer

LIMBS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11), (11, 13),
         (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))


def pad_keypoints(pose):
    """KNN-impute coordinates equal to 0 from the 4 nearest frames (inverse-distance weights);
    unchanged when a coordinate is missing in every frame (the reference's reshape fallback)."""
    t, v, _ = pose.shape
    xy = pose[..., :2].reshape(t, v * 2)
    filled = KNNImputer(missing_values=0.0, n_neighbors=4, weights="distance").fit_transform(xy)
    if filled.shape != xy.shape:
        filled = xy
    return np.concatenate([filled.reshape(t, v, 2), pose[..., 2:]], axis=-1)


def normalise(pose, canvas=128):
    xy = pose[..., :2]
    hip = (xy[:, 11] + xy[:, 12]) / 2.0
    xy = xy - hip[:, None]
    span = xy[:, :, 1].max(-1) - xy[:, :, 1].min(-1)
    xy = xy * ((canvas // 1.5) / span[:, None, None]) + canvas // 2
    return np.concatenate([xy, pose[..., 2:]], axis=-1)


def _window(lo, hi, sigma, size):
    st = max(int(lo - 3 * sigma), 0)
    ed = min(int(hi + 3 * sigma) + 1, size)
    return st, ed


def _point(arr, centre, value, sigma, eps=1e-3):
    if value < eps:
        return
    h, w = arr.shape
    x0, x1 = _window(centre[0], centre[0], sigma, w)
    y0, y1 = _window(centre[1], centre[1], sigma, h)
    x = np.arange(x0, x1, dtype=np.float32)
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    if not (len(x) and len(y)):
        return
    patch = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / 2 / sigma**2) * value
    arr[y0:y1, x0:x1] = np.maximum(arr[y0:y1, x0:x1], patch)


def _limb(arr, a, b, va, vb, sigma, eps=1e-3):
    value = min(va, vb)
    if value < eps:
        return
    h, w = arr.shape
    x0, x1 = _window(min(a[0], b[0]), max(a[0], b[0]), sigma, w)
    y0, y1 = _window(min(a[1], b[1]), max(a[1], b[1]), sigma, h)
    x = np.arange(x0, x1, dtype=np.float32)
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    if not (len(x) and len(y)):
        return
    d2a = (x - a[0]) ** 2 + (y - a[1]) ** 2
    d2b = (x - b[0]) ** 2 + (y - b[1]) ** 2
    d2ab = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    if d2ab < 1:
        _point(arr, a, va, sigma)
        return
    coeff = (d2a - d2b + d2ab) / 2.0 / d2ab
    px = a[0] + coeff * (b[0] - a[0])
    py = a[1] + coeff * (b[1] - a[1])
    d2line = (x + 0 * y - px) ** 2 + (y + 0 * x - py) ** 2
    d2 = np.where(coeff <= 0, d2a, np.where(coeff >= 1, d2b, d2line))
    patch = np.exp(-d2 / 2.0 / sigma**2) * value
    arr[y0:y1, x0:x1] = np.maximum(arr[y0:y1, x0:x1], patch)


def _to_image(maps):
    """``[T, C, H, W]`` -> the channel max through the gray colormap as uint8 levels (float)."""
    m = maps.max(axis=1)
    return (cm.gray(m)[..., :3] * 255).astype(np.uint8).mean(-1)


def _align(img, canvas=128, out=64):
    img = img / 255.0
    rows = img.sum(axis=1) != 0
    top = rows.argmax()
    btm = rows.cumsum().argmax()
    height = btm - top + 1
    crop = img[top:btm + 1, canvas // 2 - height // 2:canvas // 2 + height // 2 + 1]
    return (cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)


def reference_heatmaps(pose, sigma=8.0, canvas=128, out=64, pad=True):
    """OpenGait's heatmap pretreatment of one sequence ``pose`` ``[T, 17, 3]`` (x, y, score)
    -> ``uint8 [T, 2, out, out]`` (limb map, joint map)."""
    pose = np.asarray(pose, np.float64)
    if pad:
        pose = pad_keypoints(pose)
    pose = normalise(pose, canvas)
    t = len(pose)
    limbs = np.zeros((t, len(LIMBS), canvas, canvas), np.float32)
    joints = np.zeros((t, 17, canvas, canvas), np.float32)
    for i in range(t):
        kp, score = pose[i, :, :2], pose[i, :, 2]
        for j in range(17):
            _point(joints[i, j], kp[j], score[j], sigma)
        for j, (a, b) in enumerate(LIMBS):
            _limb(limbs[i, j], kp[a], kp[b], score[a], score[b], sigma)
    result = []
    for maps in (limbs, joints):
        img = _to_image(maps)
        result.append(np.stack([_align(frame, canvas, out) for frame in img]))
    return np.stack(result, axis=1)
