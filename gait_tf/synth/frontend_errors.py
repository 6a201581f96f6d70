"""A model of our real front end's silhouette errors, for training on synthetic walkers.

The real front end (:mod:`gait_tf.video.frontend`) segments a person with the BlazePose
landmark model: a 256x256 probability map over the person's ROI, warped into the
person box and thresholded at 0.5 (:func:`gait_tf.segmentation.instances.instance_masks`),
then the connected parts that touch the person's keypoints are kept and the mask must
pass :func:`~gait_tf.segmentation.instances.person_shape_problem`. Its silhouettes are
therefore not the crisp outlines the renderer draws: the network's map is smooth at a
coarse effective resolution, so arms merge with the torso, the gap between the legs
closes near the crotch, feet and hands are blobs, the edge is ragged; the box jitters
from frame to frame; bags and neighbours get merged in; frames are lost.

:func:`apply_frontend_errors` reproduces this on a clean mask sequence, per frame, on
the walker's tight box (all sizes are fractions of the box height ``H``, so the model
does not depend on the rendering resolution):

1. **box jitter** -- the box's edges move (AR(1) in time, sd ``box_jitter`` x H) and its
   width stretches (``stretch_jitter``); the map is computed in the jittered box and put
   back into the true one (a mis-registered warp: the mask shifts, scales and changes its
   aspect from frame to frame), and whatever fell outside the jittered box is cut (a
   head, the feet or a hand lost);
2. **coarse probability map** -- the box is resampled to a map ``map_res`` px high
   (area average: the fraction of the cell covered), smoothed by a Gaussian of sd
   ``blur`` x H, shifted by ``bias`` (> 0 fattens and closes gaps: arms merge with the
   torso, the legs merge near the crotch) and perturbed by smooth noise (amplitude
   ``noise``, cell size ``noise_scale`` x H, AR(1) in time with ``noise_rho``) that
   makes the edge ragged and blobby;
3. **feet** -- with probability ``feet_loss`` per frame (runs of ``burst`` frames) the
   probability of the lowest ``feet_band`` x H is lowered by 0.6-1.2, fully from half-way
   down the band (feet lost on ground of a similar colour);
4. **holes** -- with probability ``holes`` per frame, a few small low-probability
   ellipses inside the body;
5. **merged objects** -- with probability ``blob_prob`` per sequence, an object-sized
   blob stuck to one side at hand / hip height for a run of frames (a bag, a bike, a
   pole);
6. **other people** -- pixels of other walkers (``others``) within ``attach`` x H of the
   walker are added to the map with weight ``attach_gain``;
7. the map is resized back to the box and thresholded at 0.5; the connected parts that
   contain the body's core (else the largest) are kept, as the real front end keeps
   the parts that touch the person's keypoints; a mask that fails the real front end's
   person-shape check is dropped;
8. **lost frames** -- whole frames are dropped (empty) with probability ``lost`` per
   frame in runs of ``burst`` frames (detector misses, occlusion).

The ``fitted`` profile's parameters were estimated from the real front end's output on
``four_walkers.mp4`` and ``street_crowd.avi`` with ``scripts/fit_frontend_errors.py``;
docs/synth.md lists the statistics matched.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gait_tf.errors import ConfigError, DataError


@dataclass(frozen=True)
class FrontendErrors:
    """Parameters of the front-end error model (see the module docstring); sizes are
    fractions of the walker's box height, probabilities per frame unless noted."""

    box_jitter: float = 0.004
    stretch_jitter: float = 0.03
    map_res: float = 28.0
    blur: float = 0.008
    bias: float = 0.0
    noise: float = 0.2
    noise_scale: float = 0.08
    noise_rho: float = 0.9
    feet_loss: float = 0.0
    feet_band: float = 0.05
    holes: float = 0.0
    blob_prob: float = 0.15
    attach: float = 0.06
    attach_gain: float = 0.6
    lost: float = 0.19
    burst: float = 4.81

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ConfigError(f"frontend_errors.{f.name}: expected a finite number, got {v!r}")
        for name in ("feet_loss", "holes", "blob_prob", "lost", "noise_rho"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"frontend_errors.{name}: a probability in 0..1, got {getattr(self, name)!r}")
        if not 8 <= self.map_res <= 512:
            raise ConfigError(f"frontend_errors.map_res: must lie in 8..512 px, got {self.map_res!r}")
        if self.burst < 1:
            raise ConfigError(f"frontend_errors.burst: must be >= 1 frame, got {self.burst!r}")
        for name in ("box_jitter", "stretch_jitter", "blur", "noise", "noise_scale", "feet_band", "attach",
                     "attach_gain"):
            if getattr(self, name) < 0:
                raise ConfigError(f"frontend_errors.{name}: must be >= 0, got {getattr(self, name)!r}")


#: named error profiles; ``fitted`` is estimated from the real front end's output
PROFILES = {
    "fitted": FrontendErrors(),
    "none": FrontendErrors(box_jitter=0.0, stretch_jitter=0.0, map_res=512.0, blur=0.0, bias=0.0, noise=0.0,
                           feet_loss=0.0, holes=0.0, blob_prob=0.0, attach=0.0, lost=0.0),
}


#: statistics of our real front end's silhouettes (written by scripts/fit_frontend_errors.py)
REFERENCE_FILE = Path(__file__).with_name("frontend_reference.json")


def reference_stats() -> dict:
    """The real front end's silhouette statistics that the ``fitted`` profile matches:
    ``{"real": pooled stats, "clips": per-clip stats, "scales", "fit_stats", "source"}``
    (see :mod:`gait_tf.synth.silhouette_stats`)."""
    with open(REFERENCE_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def get_profile(spec) -> FrontendErrors:
    """A :class:`FrontendErrors` from a profile name, a dict of parameters (optionally
    ``{"profile": "fitted", ...}`` to change some) or a ``FrontendErrors``."""
    if isinstance(spec, FrontendErrors):
        return spec
    if isinstance(spec, str):
        if spec not in PROFILES:
            raise ConfigError(f"frontend_errors: unknown profile {spec!r}; expected one of {', '.join(PROFILES)}")
        return PROFILES[spec]
    if isinstance(spec, dict):
        opts = dict(spec)
        base = get_profile(opts.pop("profile", "fitted"))
        known = {f.name for f in dataclasses.fields(FrontendErrors)}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ConfigError(f"frontend_errors: unknown parameter(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}")
        return dataclasses.replace(base, **opts)
    raise ConfigError(f"frontend_errors: expected a profile name, a dict or FrontendErrors, got {spec!r}")


def _runs(rng, n, p, burst):
    """bool [n]: a two-state Markov chain on for ``p`` of the frames in runs of mean ``burst``."""
    if p <= 0:
        return np.zeros(n, bool)
    if p >= 1:
        return np.ones(n, bool)
    leave = 1.0 / burst                      # on -> off
    enter = p * leave / (1.0 - p)            # off -> on, so the stationary share is p
    state = rng.uniform() < p
    out = np.empty(n, bool)
    u = rng.uniform(size=n)
    for t in range(n):
        out[t] = state
        state = (u[t] >= leave) if state else (u[t] < enter)
    return out


def _ar1(rng, shape, n, rho):
    e = rng.standard_normal((n, *shape)).astype(np.float32)
    out = np.empty_like(e)
    out[0] = e[0]
    k = np.float32(np.sqrt(1 - rho ** 2))
    for t in range(1, n):
        out[t] = rho * out[t - 1] + k * e[t]
    return out


def apply_frontend_errors(silhouettes, profile="fitted", rng=None, others=None) -> np.ndarray:
    """Degrade a clean silhouette sequence as our real front end would.

    Args:
        silhouettes: ``uint8 [T, H, W]`` 0/255 (or bool) clean masks of one walker.
        profile: a profile name (:data:`PROFILES`), dict or :class:`FrontendErrors`.
        rng: ``numpy.random.Generator`` (or an int seed); the output is a pure function of it.
        others: optional ``bool [T, H, W]``: other people's pixels (bits of them near the
            walker get merged in).

    Returns:
        ``uint8 [T, H, W]`` 0/255; frames the front end would lose are all zero.
    """
    p = get_profile(profile)
    sil = np.asarray(silhouettes)
    if sil.dtype == bool:
        sil = sil.astype(np.uint8) * 255
    if sil.ndim != 3 or sil.dtype != np.uint8:
        raise DataError(f"apply_frontend_errors: expected uint8 or bool [T, H, W] silhouettes, "
                        f"got {sil.dtype} {sil.shape}")
    if others is not None and np.shape(others) != sil.shape:
        raise DataError(f"apply_frontend_errors: others has shape {np.shape(others)}, silhouettes {sil.shape}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    n, fh, fw = sil.shape
    out = np.zeros_like(sil)
    # every random draw up front, in a fixed order, so frames do not depend on each other
    box_noise = _ar1(rng, (4,), n, 0.7) * p.box_jitter
    stretch = np.exp(_ar1(rng, (), n, 0.8) * p.stretch_jitter)
    g = 16
    field = _ar1(rng, (g, g), n, p.noise_rho) * p.noise
    feet = _runs(rng, n, p.feet_loss, p.burst)
    feet_depth = rng.uniform(0.6, 1.2, n)
    hole_on = rng.uniform(size=n) < p.holes
    hole_par = rng.uniform(size=(n, 3, 4))
    blob_on = _runs(rng, n, 1.0, 1.0) & (rng.uniform() < p.blob_prob)
    blob_span = np.sort(rng.integers(0, n + 1, 2))
    blob_par = rng.uniform(size=4)
    lost = _runs(rng, n, p.lost, p.burst)
    for t in range(n):
        if lost[t]:
            continue
        m = sil[t] > 127
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        if len(rows) < 2 or len(cols) < 2:
            continue
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        H = float(y1 - y0)
        # 1. the true box (padded) and the jittered box the map is computed in; the map is
        # put back into the true box, so a jittered box shifts / scales / cuts the mask
        pad = int(np.ceil(0.06 * H))
        ty0, ty1, tx0, tx1 = y0 - pad, y1 + pad, x0 - pad, x1 + pad
        th, tw = ty1 - ty0, tx1 - tx0
        cx = 0.5 * (tx0 + tx1) + box_noise[t, 2] * H
        half = 0.5 * tw * stretch[t]
        jy0 = int(round(ty0 + box_noise[t, 0] * H))
        jy1 = max(jy0 + 2, int(round(ty1 + box_noise[t, 1] * H)))
        jx0 = int(round(cx - half))
        jx1 = max(jx0 + 2, int(round(cx + half)))
        crop = _crop(m, jx0, jy0, jx1, jy1).astype(np.float32)
        ch, cw = crop.shape
        # 2. the coarse probability map (the whole map computed at map_res rows)
        mh = int(max(8, round(p.map_res * ch / H)))
        mw = int(max(4, round(mh * cw / ch)))
        prob = cv2.resize(crop, (mw, mh), interpolation=cv2.INTER_AREA)
        scale = mh / ch  # map px per frame px
        if p.blur > 0:
            s = p.blur * H * scale
            prob = cv2.GaussianBlur(prob, (0, 0), sigmaX=s, sigmaY=s)
        prob += p.bias * cv2.GaussianBlur(prob, (0, 0), sigmaX=max(0.5, 0.03 * H * scale)) * 2.0
        if p.noise > 0:
            cells = max(2, int(round(1.0 / max(p.noise_scale, 1e-3))))
            nz = cv2.resize(np.ascontiguousarray(field[t, :cells, :cells]), (mw, mh), interpolation=cv2.INTER_CUBIC)
            edge = 4.0 * prob * (1.0 - np.clip(prob, 0, 1))   # noise acts where the map is uncertain
            prob += nz * (0.35 + edge)
        # 3. feet lost
        if feet[t]:
            band = max(1.0, p.feet_band * H * scale)
            rows_m = np.arange(mh)[:, None]
            bottom = (y1 - jy0) * scale
            prob -= feet_depth[t] * np.clip((rows_m - (bottom - band)) / (0.5 * band), 0, 1) * (rows_m <= bottom + 1)
        # 4. holes inside the body
        if hole_on[t]:
            for k in range(int(1 + 2 * hole_par[t, 0, 0])):
                hx, hy, hs, _ = hole_par[t, k]
                cyh = (0.2 + 0.55 * hy) * mh
                cxh = (0.3 + 0.4 * hx) * mw
                r = max(1.0, (0.02 + 0.04 * hs) * mh)
                cv2.ellipse(prob, (int(cxh), int(cyh)), (int(round(r)), int(round(r * 1.3))), 0, 0, 360, -1.0, -1)
        # 5. an object merged to one side
        if blob_on[t] and blob_span[0] <= t < blob_span[1]:
            side = 1 if blob_par[0] < 0.5 else -1
            yb = (0.45 + 0.3 * blob_par[1]) * mh
            rb = (0.06 + 0.08 * blob_par[2]) * mh
            on = np.nonzero(prob[int(min(max(yb, 0), mh - 1))] > 0.5)[0]
            if len(on):
                xb = (on.max() + 0.6 * rb) if side > 0 else (on.min() - 0.6 * rb)
                cv2.ellipse(prob, (int(xb), int(yb)), (int(max(1, rb)), int(max(1, rb * (1 + blob_par[3])))), 0, 0,
                            360, 1.0, -1)
        # 6. bits of other people
        if others is not None and p.attach > 0:
            o = _crop(np.asarray(others[t], bool), jx0, jy0, jx1, jy1).astype(np.float32)
            if o.any():
                r = 2 * int(p.attach * H) + 1
                near = cv2.dilate(crop, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
                om = cv2.resize(o * near, (mw, mh), interpolation=cv2.INTER_AREA)
                prob = np.maximum(prob, p.attach_gain * om + 0.5 * prob)
        # 7. back into the true box, threshold 0.5, keep the body
        up = cv2.resize(prob, (tw, th), interpolation=cv2.INTER_LINEAR) > 0.5
        up = _keep_body(up, _crop(m, tx0, ty0, tx1, ty1))
        if up is None or _shape_problem(up):
            continue
        _paste(out[t], up, tx0, ty0)
    return out


def _crop(img, x0, y0, x1, y1):
    """``img[y0:y1, x0:x1]`` with zeros where the window leaves the image."""
    out = np.zeros((y1 - y0, x1 - x0), img.dtype)
    h, w = img.shape
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return out


def _paste(frame, mask, x0, y0):
    """Set ``frame`` to 255 under ``mask`` placed at ``(x0, y0)`` (clipped to the frame)."""
    h, w = frame.shape
    mh, mw = mask.shape
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y0 + mh, h), max(x0, 0), min(x0 + mw, w)
    if sy1 > sy0 and sx1 > sx0:
        frame[sy0:sy1, sx0:sx1][mask[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0]] = 255


def _keep_body(mask, clean):
    """The connected parts of ``mask`` overlapping the clean body's core (else the largest)."""
    if not mask.any():
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    core = cv2.erode(clean.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    hit = np.unique(labels[core & mask])
    hit = hit[hit > 0]
    if len(hit) == 0:
        hit = [1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    keep = np.isin(labels, hit)
    return keep


def _shape_problem(mask) -> bool:
    """The real front end's person-shape check (aspect, fill, one connected body) --
    without its absolute minimum area, which is about the video's resolution, not ours."""
    from gait_tf.segmentation import instances as ins

    ys, xs = np.nonzero(mask)
    if len(ys) < 10:
        return True
    m = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = m.shape
    area = int(m.sum())
    if not ins.MIN_ASPECT <= h / w <= ins.MAX_ASPECT or area < ins.MIN_FILL * h * w:
        return True
    n, _, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    return n > 2 and stats[1:, cv2.CC_STAT_AREA].max() < ins.MIN_MAIN_PART * area
