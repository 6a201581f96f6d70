"""Differentiable sampling of local 3D volumes for :mod:`gait_tf.models.local3d`.

Follows the parameterisation of the official 3D Local CNN (aliyun/3D-Local-CNN-for-Gait-
Recognition, ``models/sample.py``, ``models/localcnn3d.py``). Each body part predicts seven
raw numbers ``(dt, dx, dy, log_sigma2, log_delta_t, log_delta, log_gamma)``; with the part's
prior (:data:`PART_PRIORS`) they define

- the volume centre in feature-map pixels / frames:
  ``cx = tanh(dx) * in_w / 2 + W * dx_prior``, ``cy = tanh(dy) * in_h / 2 + H * dy_prior``;
- the spatial stride ``delta = exp(log_delta) * delta_prior`` between the ``out_w`` x
  ``round(out_w * in_h / in_w)`` sampling points (centred on ``(cx, cy)``), the temporal
  stride ``delta_t = exp(log_delta_t) * delta_t_prior`` between the ``T`` output frames;
- the Gaussian width (variance) ``sigma2 = exp(log_sigma2) * sigma_prior`` of the spatial
  sampling kernels;
- the confidence ``gamma = sigmoid(log_gamma)`` that scales the whole volume.

Sampling is a product of 1D weight matrices (separable), so every mode is differentiable
with respect to the localisation parameters:

- ``"mix"`` (official default): normalised Gaussian kernels in space, linear interpolation
  in time. Faithful to the official code: the temporal centre goes through ``tanh`` twice
  (``tanh(tanh(dt) * T/2 + T * dt_prior) * T/2 + round(T/2)``, Python/banker's rounding) and
  the temporal ``grid_sample`` on a width-1 grid at x = -1 (``align_corners=False``) halves
  the values (factor 0.5).
- ``"trilinear"``: linear interpolation in t, y and x (``grid_sample`` trilinear,
  ``align_corners=False``, zero padding; centre ``tanh(dt) * T/2 + T * dt_prior``).
- ``"gaussian"``: normalised Gaussian kernels in t, y and x (same ``sigma2`` for all three).

The sampled ``[B, T, h, out_w, C]`` glimpse is multiplied by ``gamma`` and zero-padded to
``out_h`` rows (top ``(out_h - h) // 2``). Units: feature-map pixels (the 16 x 11 map of the
backbone for 64 x 44 silhouettes) and frames.
"""
from __future__ import annotations

import dataclasses

from keras import ops

from gait_tf.errors import ModelError

EPS = 1e-8  # the official normalisation floor


@dataclasses.dataclass(frozen=True)
class PartPrior:
    """Prior geometry of one body part (official ``LocalBranch._in_out_hw`` / ``_offsets``).

    ``in_h, in_w``: nominal part size in feature pixels; ``out_h, out_w``: sampled volume
    size; ``dt, dx, dy``: anchor as a fraction of T, W, H; ``sigma_t`` (unused by the
    official samplers), ``sigma``: Gaussian variance prior; ``delta_t, delta``: stride priors.
    """

    in_h: int
    in_w: int
    out_h: int
    out_w: int
    dt: float
    dx: float
    dy: float
    sigma_t: float
    sigma: float
    delta_t: float
    delta: float

    @property
    def glimpse_h(self) -> int:
        """Rows actually sampled (the rest of ``out_h`` is zero padding); Python ``round``."""
        return int(round(self.out_w / self.in_w * self.in_h))


#: The six parts in the official fusion order, with the official defaults (the paper's
#: supplementary table; ``models/localcnn3d.py``).
PART_PRIORS = {
    "head": PartPrior(2, 4, 16, 11, 0.5, 0.5, 1.0 / 16, 0.3, 0.1, 0.4, 4.0 / 11),
    "torso": PartPrior(8, 10, 16, 11, 0.5, 0.5, 3.0 / 8, 0.3, 0.1, 0.4, 10.0 / 11),
    "armL": PartPrior(3, 3, 16, 11, 0.5, 0.3, 0.5, 0.3, 0.1, 0.4, 3.0 / 11),
    "armR": PartPrior(3, 3, 16, 11, 0.5, 0.7, 0.5, 0.3, 0.1, 0.4, 3.0 / 11),
    "legL": PartPrior(6, 5, 16, 11, 0.5, 0.3, 0.8, 0.3, 0.1, 0.4, 5.0 / 11),
    "legR": PartPrior(6, 5, 16, 11, 0.5, 0.7, 0.8, 0.3, 0.1, 0.4, 5.0 / 11),
}
PART_NAMES = tuple(PART_PRIORS)
SAMPLERS = ("mix", "trilinear", "gaussian")


def _col(v):
    return v[:, None, None]  # [B] -> [B, 1, 1]


def gaussian_weights(mu, size, sigma2):
    """``mu`` [B, n] centres, ``sigma2`` [B] -> normalised kernels [B, n, size] over ``0..size-1``."""
    grid = ops.cast(ops.arange(size), "float32")[None, None, :]
    f = ops.exp(-ops.square(grid - mu[:, :, None]) / (2.0 * _col(sigma2)))
    return f / ops.maximum(ops.sum(f, axis=2, keepdims=True), EPS)


def linear_weights(mu, size):
    """Linear-interpolation weights [B, n, size] of ``grid_sample`` (``align_corners=False``,
    zero padding) at pixel centres ``mu`` [B, n], normalised as the official code does by
    ``size - 1``: ``i = ((mu / (size - 1) * 2 - 1 + 1) * size - 1) / 2``."""
    s = ops.cast(size, "float32")
    g = mu / (s - 1.0) * 2.0 - 1.0
    pos = ((g + 1.0) * s - 1.0) / 2.0
    grid = ops.cast(ops.arange(size), "float32")[None, None, :]
    return ops.relu(1.0 - ops.abs(pos[:, :, None] - grid))


def _round_half_even_half(t):
    """``round(t / 2)`` with Python's banker's rounding for an int tensor ``t``."""
    half = t // 2
    return half + (t % 2) * (half % 2)


def locate(params, prior: PartPrior, t, h, w, mode="mix"):
    """Sampling centres from raw parameters ``params`` [B, 7].

    Returns ``(mu_t [B, T], mu_y [B, glimpse_h], mu_x [B, out_w], sigma2 [B], gamma [B])``
    in frames / feature pixels, ``t`` the (dynamic) number of frames, ``h, w`` the map size.
    """
    dt, dx, dy, log_sigma2, log_delta_t, log_delta, log_gamma = (params[:, i] for i in range(7))
    tf_ = ops.cast(t, "float32")
    cx = ops.tanh(dx) * prior.in_w / 2.0 + w * prior.dx
    cy = ops.tanh(dy) * prior.in_h / 2.0 + h * prior.dy
    sigma2 = ops.exp(log_sigma2) * prior.sigma
    delta_t = ops.exp(log_delta_t) * prior.delta_t
    delta = ops.exp(log_delta) * prior.delta
    gamma = ops.sigmoid(log_gamma)
    ct = ops.tanh(dt) * tf_ / 2.0 + tf_ * prior.dt
    if mode == "mix":  # the official MixSample re-applies tanh with a rounded anchor
        ct = ops.tanh(ct) * tf_ / 2.0 + ops.cast(_round_half_even_half(t), "float32")
    gh, ow = prior.glimpse_h, prior.out_w
    kt = ops.cast(ops.arange(t), "float32")[None, :]
    ky = ops.cast(ops.arange(gh), "float32")[None, :]
    kx = ops.cast(ops.arange(ow), "float32")[None, :]
    mu_t = ct[:, None] + (kt - tf_ / 2.0) * delta_t[:, None]
    mu_y = cy[:, None] + (ky - gh / 2.0) * delta[:, None]
    mu_x = cx[:, None] + (kx - ow / 2.0) * delta[:, None]
    return mu_t, mu_y, mu_x, sigma2, gamma


def sample_volume(x, params, prior: PartPrior, mode="mix", inverse=False):
    """Sample the local volume of one part: ``x`` [B, T, H, W, C], ``params`` [B, 7] ->
    ``[B, T, out_h, out_w, C]`` (see the module docstring).

    ``inverse=True`` (the official samplers' ``inverse`` option, ``"mix"`` and ``"gaussian"``):
    the sampled glimpse is projected back onto the input grid with the transposed kernels
    (``Fy^T G Fx`` in space; also ``Ft^T`` in time for ``"gaussian"``), so the part's volume
    keeps its place in the ``H x W`` map and is zero-ish elsewhere; needs
    ``(out_h, out_w) == (H, W)`` (true for every prior at 64 x 44 input).
    """
    if mode not in SAMPLERS:
        raise ModelError(f"unknown local-volume sampler {mode!r}; known: {', '.join(SAMPLERS)}")
    if inverse and mode == "trilinear":
        raise ModelError("local-volume sampler 'trilinear' has no inverse projection (the official code "
                         "has none); use 'mix' or 'gaussian'")
    h, w = int(x.shape[2]), int(x.shape[3])
    t = ops.shape(x)[1]
    mu_t, mu_y, mu_x, sigma2, gamma = locate(params, prior, t, h, w, mode)
    if mode == "trilinear":
        wy, wx = linear_weights(mu_y, h), linear_weights(mu_x, w)
        wt = linear_weights(mu_t, t)
    else:
        wy, wx = gaussian_weights(mu_y, h, sigma2), gaussian_weights(mu_x, w, sigma2)
        wt = linear_weights(mu_t, t) * 0.5 if mode == "mix" else gaussian_weights(mu_t, t, sigma2)
    rows = prior.glimpse_h
    top = (prior.out_h - rows) // 2
    bottom = prior.out_h - rows - top
    if not inverse and (top or bottom):
        # zero-pad the glimpse to out_h rows by padding the row weights: a Pad op on the volume
        # would feed the part's 'same' Conv3D, and TF 2.21's grappler remapper folds such a pad
        # into the convolution and drops the convolution's own padding (static batch-1 traces)
        wy = ops.pad(wy, ((0, 0), (top, bottom), (0, 0)))
    z = ops.einsum("bjw,bthwc->bthjc", wx, x)
    z = ops.einsum("bih,bthjc->btijc", wy, z)
    z = ops.einsum("bkt,btijc->bkijc", wt, z)
    if inverse:
        if (prior.out_h, prior.out_w) != (h, w):
            raise ModelError(f"inverse sampling needs the output size {(prior.out_h, prior.out_w)} to equal "
                             f"the feature map's {(h, w)}")
        z = ops.einsum("bjw,bkijc->bkiwc", wx, z)
        z = ops.einsum("bih,bkiwc->bkhwc", wy, z)
        if mode == "gaussian":
            z = ops.einsum("bkt,bkhwc->bthwc", wt, z)
    z = z * gamma[:, None, None, None, None]
    # einsum loses the static channel count in graph mode; restore it (convolutions need it)
    return ops.reshape(z, (-1, t, prior.out_h, prior.out_w, int(x.shape[-1])))


def volume_boxes(params, prior: PartPrior, t, h, w, mode="mix"):
    """Numpy-friendly summary for plotting: per sample and output frame, the sampled box
    ``(t_centre, y0, y1, x0, x1)`` in feature pixels / frames and ``gamma``.
    Returns ``(boxes [B, T, 5], gamma [B])``."""
    mu_t, mu_y, mu_x, _, gamma = locate(params, prior, t, h, w, mode)
    y0, y1 = ops.min(mu_y, axis=1), ops.max(mu_y, axis=1)
    x0, x1 = ops.min(mu_x, axis=1), ops.max(mu_x, axis=1)
    n = ops.shape(mu_t)[1]
    rep = lambda v: ops.repeat(v[:, None], n, axis=1)  # noqa: E731
    return ops.stack([mu_t, rep(y0), rep(y1), rep(x0), rep(x1)], axis=-1), gamma
