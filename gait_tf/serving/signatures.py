"""Serving signatures: the stable request/response contract of exported models.

Every exported SavedModel is a ``tf.Module`` whose ``tf.function`` signatures take the
*wire* format (uint8 pixels, any image size) and do the preprocessing, validation and
post-processing inside the graph, so that TF Serving needs no Python.

The contract, per model input kind (names are stable; see ``docs/serving.md``):

``silhouette`` models (GaitSet, GaitPart, GaitGL, ...)
    ``serving_default``: ``silhouettes`` uint8 ``[batch, frames, 64, 44]`` (0..255;
    ``[batch, frames, 64, 44, 1]`` accepted too) → ``embeddings`` float32
    ``[batch, parts, dim]`` and ``embedding`` float32 ``[batch, parts*dim]``
    (flattened, L2-normalised, for nearest-neighbour search).
    ``serving_float``: the same with ``silhouettes`` float32 in [0, 1].
``image`` models (HumanPoseIRNetwork)
    ``serving_default``: ``images`` uint8 RGB ``[batch, height, width, 3]`` of any size
    (resized inside to 299×299) → ``joints_y``, ``joints_x`` float32 ``[batch, joints]``
    (pixel coordinates in the *request* image), ``probabilities`` float32
    ``[batch, joints]``. ``heatmaps``: the same plus ``heatmaps`` float32
    ``[batch, h, w, joints]`` (smoothed probability maps). ``features`` (models with a
    pose-feature head): ``features`` float32 ``[batch, 17, 17, 32]``, GaitNN's input.
``pose_features`` models (GaitNetwork / GaitNN)
    ``serving_default``: ``pose_features`` float32 ``[batch, frames, 17, 17, 32]`` →
    ``identification`` float32 ``[batch, dim]`` and ``embedding`` (L2-normalised).
``rgb_sequence`` models
    ``serving_default``: ``frames`` uint8 ``[batch, frames, H, W, 3]`` →
    ``embeddings`` / ``embedding`` as for silhouettes.
``rgb_crops`` models (GaitEdge)
    ``serving_default``: ``frames`` uint8 ``[batch, frames, H, W, 3]`` (each frame the
    person's box resized to ``H x W``) and ``ratios`` float32 ``[batch, frames]`` (each box's
    width / height, > 0) → ``embeddings`` / ``embedding``. A model built with a mask input
    also takes ``mask`` uint8 ``[batch, frames, H, W]`` (0 / 255).
``skeleton_maps`` models (SkeletonGait)
    ``serving_default``: ``keypoints`` float32 ``[batch, frames, 17, 3]`` (COCO-17 x, y in
    pixels of any image, score in [0, 1]; missing joints (0, 0)) → the skeleton maps are
    rendered inside the graph (:mod:`gait_tf.data.heatmaps`) → ``embeddings`` /
    ``embedding``. ``heatmaps``: ``skeleton_maps`` uint8 ``[batch, frames, 64, 44, 2]``
    (pre-rendered limb and joint maps, OpenGait's stored format cut to 44 columns).
``skeleton_silhouette`` models (SkeletonGait++)
    The same with ``silhouettes`` uint8 ``[batch, frames, 64, 44]`` of the same frames as a
    second input of both signatures.

Input tensors are declared with *unknown rank* in the signature so that rank, size,
channel count and frame count are checked by ``tf.debugging.assert_*`` ops inside the
graph: a bad request fails with ``INVALID_ARGUMENT`` and a readable message instead of
an opaque shape error deep in the network. (A static shape in the signature would let
TF fold these checks away.) Wrong dtypes are rejected by the signature itself.

This module has no TensorFlow import at module level: :data:`EXPECTED` (used by the
client to check a server's metadata) is plain Python.
"""
from __future__ import annotations

from gait_tf.errors import ServingError

POSE_INPUT_SIZE = 299

#: What each input kind's export exposes: ``{signature: {"inputs": {name: dtype},
#: "outputs": {name: dtype}}}`` with TF dtype names as in ``saved_model_cli`` (DT_*).
EXPECTED = {
    "silhouette": {
        "serving_default": {
            "inputs": {"silhouettes": "DT_UINT8"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
        "serving_float": {
            "inputs": {"silhouettes": "DT_FLOAT"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
    "image": {
        "serving_default": {
            "inputs": {"images": "DT_UINT8"},
            "outputs": {"joints_y": "DT_FLOAT", "joints_x": "DT_FLOAT", "probabilities": "DT_FLOAT"},
        },
        "heatmaps": {
            "inputs": {"images": "DT_UINT8"},
            "outputs": {
                "joints_y": "DT_FLOAT",
                "joints_x": "DT_FLOAT",
                "probabilities": "DT_FLOAT",
                "heatmaps": "DT_FLOAT",
            },
        },
    },
    "pose_features": {
        "serving_default": {
            "inputs": {"pose_features": "DT_FLOAT"},
            "outputs": {"identification": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
    "rgb_sequence": {
        "serving_default": {
            "inputs": {"frames": "DT_UINT8"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
    "rgb_crops": {
        "serving_default": {
            "inputs": {"frames": "DT_UINT8", "ratios": "DT_FLOAT"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
    "skeleton_maps": {
        "serving_default": {
            "inputs": {"keypoints": "DT_FLOAT"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
        "heatmaps": {
            "inputs": {"skeleton_maps": "DT_UINT8"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
    "skeleton_silhouette": {
        "serving_default": {
            "inputs": {"keypoints": "DT_FLOAT", "silhouettes": "DT_UINT8"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
        "heatmaps": {
            "inputs": {"skeleton_maps": "DT_UINT8", "silhouettes": "DT_UINT8"},
            "outputs": {"embeddings": "DT_FLOAT", "embedding": "DT_FLOAT"},
        },
    },
}


def expected_signatures(input_kind: str) -> dict:
    """The :data:`EXPECTED` entry of ``input_kind`` (raises :class:`ServingError`)."""
    if input_kind not in EXPECTED:
        raise ServingError(f"no serving signatures for input kind {input_kind!r}; known: {sorted(EXPECTED)}")
    return EXPECTED[input_kind]


def _first_tensor(out, keys):
    """The model output under the first of ``keys`` present (or the output itself)."""
    if isinstance(out, dict):
        for key in keys:
            if key in out:
                return out[key]
        raise ServingError(f"model outputs {sorted(out)} contain none of {list(keys)}")
    if isinstance(out, (list, tuple)):
        return out[0]
    return out


def build_serving_module(model, input_kind: str, *, input_hw=(64, 44), xla: bool = False):
    """Wrap ``model`` (a built ``keras.Model``) in a ``tf.Module`` with serving signatures.

    Returns ``(module, signatures)`` ready for ``tf.saved_model.save(module, path,
    signatures=signatures)``. With ``xla=True`` the model computation (not the input
    validation, whose ``Assert`` ops XLA would drop) runs in a ``jit_compile=True``
    function. Outputs are always float32, also for mixed-precision models.
    """
    import numpy as np
    import tensorflow as tf

    module = tf.Module()
    module.model = model  # tracks the variables

    def _compute(x):
        return model(x, training=False)

    # One shared tf.function: every signature calls the same traced model graph (traced
    # once per input signature, not once per serving signature).
    compute = tf.function(_compute, jit_compile=True if xla else None, reduce_retracing=True)
    f32 = lambda t: tf.cast(t, tf.float32)  # noqa: E731

    def _checked(x, checks):
        """Run ``checks`` (callables ``t -> assert op``) strictly one after the other, each on
        ``x`` gated by the previous ones, so no check (and no later op) sees an input an
        earlier check rejected. Returns ``x`` gated on all checks."""
        for check in checks:
            op = check(x)
            with tf.control_dependencies([op] if op is not None else []):
                x = tf.identity(x)
        return x

    def _l2(x):
        return tf.math.l2_normalize(f32(x), axis=-1, epsilon=1e-12)

    if input_kind in ("silhouette", "rgb_sequence"):
        h, w = (int(v) for v in input_hw)
        chans = 1 if input_kind == "silhouette" else 3
        arg = "silhouettes" if input_kind == "silhouette" else "frames"

        def _validate(x):
            full = f"[batch, frames, {h}, {w}]" if chans == 1 else f"[batch, frames, {h}, {w}, 3]"
            checks = [
                lambda t: tf.debugging.assert_greater_equal(
                    tf.rank(t), 4 if chans == 1 else 5, message=f"{arg} must have rank {4 if chans == 1 else 5}: {full}"),
                lambda t: tf.debugging.assert_less_equal(tf.rank(t), 5, message=f"{arg} must be {full}"),
                lambda t: tf.debugging.assert_equal(
                    tf.shape(t)[2:4], tf.constant([h, w]),
                    message=f"{arg} frames must be {h}x{w} pixels (height x width): {full}"),
                lambda t: tf.debugging.assert_equal(
                    tf.cond(tf.rank(t) == 5, lambda: tf.shape(t)[-1], lambda: tf.constant(chans)), chans,
                    message=f"{arg} must have {chans} channel(s): {full}"),
                lambda t: tf.debugging.assert_positive(tf.shape(t)[1], message=f"{arg} must contain at least one frame"),
                lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message=f"{arg}: batch is empty"),
            ]
            x = _checked(x, checks)
            shape = tf.shape(x)
            return tf.ensure_shape(tf.reshape(x, tf.concat([shape[:4], [chans]], 0)), [None, None, h, w, chans])

        def _embed(x):
            emb = _first_tensor(compute(x), ("embeddings", "embedding"))
            emb = f32(emb)
            if emb.shape.rank == 2:
                emb = emb[:, None, :]
            p, d = emb.shape[1], emb.shape[2]
            flat = tf.reshape(emb, [-1, p * d] if p and d else [tf.shape(emb)[0], -1])
            return {"embeddings": tf.identity(emb, name="embeddings"),
                    "embedding": tf.identity(_l2(flat), name="embedding")}

        @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8, name=arg)])
        def serving_default(x):
            x = _validate(x)
            return _embed(tf.cast(x, tf.float32) / 255.0)

        module.serving_default = serving_default
        signatures = {"serving_default": serving_default}
        if input_kind == "silhouette":
            @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name=arg)])
            def serving_float(x):
                x = _validate(x)
                x = _checked(x, [
                    lambda t: tf.debugging.assert_greater_equal(t, 0.0, message=f"float {arg} must be in [0, 1]"),
                    lambda t: tf.debugging.assert_less_equal(t, 1.0, message=f"float {arg} must be in [0, 1]"),
                ])
                return _embed(x)

            module.serving_float = serving_float
            signatures["serving_float"] = serving_float
        return module, signatures

    if input_kind == "pose_features":
        def _validate_pose(x):
            full = "[batch, frames, 17, 17, 32]"
            x = _checked(x, [
                lambda t: tf.debugging.assert_rank(t, 5, message=f"pose_features must have rank 5: {full}"),
                lambda t: tf.debugging.assert_equal(tf.shape(t)[2:4], tf.constant([17, 17]),
                                                  message=f"pose_features maps must be 17x17: {full}"),
                lambda t: tf.debugging.assert_equal(tf.shape(t)[4], 32, message=f"pose_features must have 32 channels: {full}"),
                lambda t: tf.debugging.assert_positive(tf.shape(t)[1], message="pose_features must contain at least one frame"),
                lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message="pose_features: batch is empty"),
            ])
            return tf.ensure_shape(x, [None, None, 17, 17, 32])

        @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="pose_features")])
        def serving_default(x):
            x = _validate_pose(x)
            ident = f32(_first_tensor(compute(x), ("identification", "embedding", "embeddings")))
            dims = ident.shape[1:]
            size = int(np.prod(dims)) if dims.is_fully_defined() else -1
            ident = tf.reshape(ident, [-1, size] if size > 0 else [tf.shape(ident)[0], -1])
            return {"identification": tf.identity(ident, name="identification"),
                    "embedding": tf.identity(_l2(ident), name="embedding")}

        module.serving_default = serving_default
        return module, {"serving_default": serving_default}

    if input_kind == "image":
        size = POSE_INPUT_SIZE

        def _pose(images, outputs):
            images = _checked(images, [
                lambda t: tf.debugging.assert_rank(t, 4, message="images must have rank 4: [batch, height, width, 3] RGB"),
                lambda t: tf.debugging.assert_equal(tf.shape(t)[3], 3, message="images must have 3 channels (RGB)"),
                lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message="images: batch is empty"),
                lambda t: tf.debugging.assert_greater_equal(tf.shape(t)[1:3], 2,
                                                            message="images must be at least 2x2 pixels"),
            ])
            shape = tf.shape(images)
            x = tf.ensure_shape(images, [None, None, None, 3])
            in_h, in_w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
            x = tf.image.resize(tf.cast(x, tf.float32), [size, size], method="bilinear")
            x = x / 127.5 - 1.0
            out = compute(x)
            if not isinstance(out, dict):
                out = {"heatmaps": out}
            result = {}
            if "features" in outputs:
                result["features"] = tf.identity(f32(out["features"]), name="features")
            if "joints_y" in outputs:
                # As HumanPoseIRNetwork.joint_positions: position = arg-max of the smoothed heat
                # map (per axis of its max-projections), scaled to the request image by
                # H/h and W/w; probability = peak of sigmoid(logits) (of the heat map if the
                # model has no logits).
                heat = f32(out["heatmaps"])
                hh, ww = tf.cast(tf.shape(heat)[1], tf.float32), tf.cast(tf.shape(heat)[2], tf.float32)
                peak_src = tf.sigmoid(f32(out["logits"])) if "logits" in out else heat
                jy = tf.cast(tf.argmax(tf.reduce_max(heat, axis=2), axis=1), tf.float32) * (in_h / hh)
                jx = tf.cast(tf.argmax(tf.reduce_max(heat, axis=1), axis=1), tf.float32) * (in_w / ww)
                result["joints_y"] = tf.identity(jy, name="joints_y")
                result["joints_x"] = tf.identity(jx, name="joints_x")
                result["probabilities"] = tf.identity(tf.reduce_max(peak_src, axis=[1, 2]), name="probabilities")
            if "heatmaps" in outputs:
                result["heatmaps"] = tf.identity(f32(out["heatmaps"]), name="heatmaps")
            return result

        joints = ("joints_y", "joints_x", "probabilities")
        spec = [tf.TensorSpec(None, tf.uint8, name="images")]

        @tf.function(input_signature=spec)
        def serving_default(images):
            return _pose(images, joints)

        @tf.function(input_signature=spec)
        def heatmaps(images):
            return _pose(images, joints + ("heatmaps",))

        module.serving_default, module.heatmaps = serving_default, heatmaps
        signatures = {"serving_default": serving_default, "heatmaps": heatmaps}
        try:
            outs = model.output  # functional models: the output structure
        except Exception:  # subclassed / never-called models have none
            outs = None
        if isinstance(outs, dict) and "features" in outs:
            @tf.function(input_signature=spec)
            def features(images):
                return _pose(images, ("features",))

            module.features = features
            signatures["features"] = features
        return module, signatures

    if input_kind in ("skeleton_maps", "skeleton_silhouette"):
        return _skeleton_module(module, compute, _checked, _embed_outputs, input_kind)

    if input_kind == "rgb_crops":
        return _rgb_crops_module(module, model, compute, _checked, _embed_outputs, input_hw)

    raise ServingError(f"cannot export model of input kind {input_kind!r}; known: {sorted(EXPECTED)}")


def _embed_outputs(emb):
    """``embeddings`` [batch, parts, dim] and the flattened, L2-normalised ``embedding``."""
    import tensorflow as tf

    emb = tf.cast(emb, tf.float32)
    if emb.shape.rank == 2:
        emb = emb[:, None, :]
    p, d = emb.shape[1], emb.shape[2]
    flat = tf.reshape(emb, [-1, p * d] if p and d else [tf.shape(emb)[0], -1])
    return {"embeddings": tf.identity(emb, name="embeddings"),
            "embedding": tf.identity(tf.math.l2_normalize(flat, axis=-1, epsilon=1e-12), name="embedding")}


def _same_frames(a, b, what):
    import tensorflow as tf

    return tf.debugging.assert_equal(tf.shape(a)[:2], tf.shape(b)[:2],
                                     message=f"{what} must have the same [batch, frames] as the first input")


def _skeleton_module(module, compute, checked, embed, input_kind):
    """Signatures of the skeleton-map models: keypoints rendered in the graph, or pre-rendered maps."""
    import tensorflow as tf

    from gait_tf.data.heatmaps import skeleton_maps_batch

    with_sils = input_kind == "skeleton_silhouette"

    def _keypoints(k):
        full = "[batch, frames, 17, 3] (x, y pixels, score)"
        k = checked(k, [
            lambda t: tf.debugging.assert_rank(t, 4, message=f"keypoints must have rank 4: {full}"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[2:], tf.constant([17, 3]),
                                                message=f"keypoints must be COCO-17 (x, y, score): {full}"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[1], message="keypoints must contain at least one frame"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message="keypoints: batch is empty"),
            lambda t: tf.debugging.assert_all_finite(t, message="keypoints contain NaN or Inf"),
            lambda t: tf.debugging.assert_greater_equal(t[..., 2], 0.0, message="keypoint scores must be in [0, 1]"),
            lambda t: tf.debugging.assert_less_equal(t[..., 2], 1.0, message="keypoint scores must be in [0, 1]"),
        ])
        return skeleton_maps_batch(tf.ensure_shape(k, [None, None, 17, 3]))

    def _maps(m):
        full = "[batch, frames, 64, 44, 2] uint8 (limb map, joint map)"
        m = checked(m, [
            lambda t: tf.debugging.assert_rank(t, 5, message=f"skeleton_maps must have rank 5: {full}"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[2:], tf.constant([64, 44, 2]),
                                                message=f"skeleton_maps must be {full}"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[1], message="skeleton_maps must contain at least one frame"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message="skeleton_maps: batch is empty"),
        ])
        return tf.cast(tf.ensure_shape(m, [None, None, 64, 44, 2]), tf.float32) / 255.0

    def _silhouettes(s, ref):
        full = "[batch, frames, 64, 44] uint8"
        s = checked(s, [
            lambda t: tf.debugging.assert_rank(t, 4, message=f"silhouettes must have rank 4: {full}"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[2:], tf.constant([64, 44]),
                                                message=f"silhouettes frames must be 64x44: {full}"),
            lambda t: _same_frames(ref, t, "silhouettes"),
        ])
        return tf.cast(tf.ensure_shape(s, [None, None, 64, 44]), tf.float32)[..., None] / 255.0

    def _run(maps):
        return embed(_first_tensor(compute(maps), ("embeddings", "embedding")))

    kp_spec = tf.TensorSpec(None, tf.float32, name="keypoints")
    maps_spec = tf.TensorSpec(None, tf.uint8, name="skeleton_maps")
    sil_spec = tf.TensorSpec(None, tf.uint8, name="silhouettes")
    if with_sils:
        @tf.function(input_signature=[kp_spec, sil_spec])
        def serving_default(keypoints, silhouettes):
            return _run(tf.concat([_keypoints(keypoints), _silhouettes(silhouettes, keypoints)], axis=-1))

        @tf.function(input_signature=[maps_spec, sil_spec])
        def heatmaps(skeleton_maps, silhouettes):
            return _run(tf.concat([_maps(skeleton_maps), _silhouettes(silhouettes, skeleton_maps)], axis=-1))
    else:
        @tf.function(input_signature=[kp_spec])
        def serving_default(keypoints):
            return _run(_keypoints(keypoints))

        @tf.function(input_signature=[maps_spec])
        def heatmaps(skeleton_maps):
            return _run(_maps(skeleton_maps))

    module.serving_default, module.heatmaps = serving_default, heatmaps
    return module, {"serving_default": serving_default, "heatmaps": heatmaps}


def _rgb_crops_module(module, model, compute, checked, embed, input_hw):
    """GaitEdge's signature: RGB box crops + their aspect ratios (+ a mask for mask-input models)."""
    import tensorflow as tf

    h, w = (int(v) for v in input_hw)
    try:
        names = set(model.input) if isinstance(model.input, dict) else set()
    except (AttributeError, ValueError):
        names = set()
    with_mask = "mask" in names
    full = f"[batch, frames, {h}, {w}, 3] uint8"

    def _frames(x):
        x = checked(x, [
            lambda t: tf.debugging.assert_rank(t, 5, message=f"frames must have rank 5: {full}"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[2:], tf.constant([h, w, 3]),
                                                message=f"frames must be {h}x{w} RGB crops: {full}"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[1], message="frames must contain at least one frame"),
            lambda t: tf.debugging.assert_positive(tf.shape(t)[0], message="frames: batch is empty"),
        ])
        return tf.cast(tf.ensure_shape(x, [None, None, h, w, 3]), tf.float32) / 255.0

    def _ratios(r, ref):
        r = checked(r, [
            lambda t: tf.debugging.assert_rank(t, 2, message="ratios must be [batch, frames] (box width / height)"),
            lambda t: _same_frames(ref, t, "ratios"),
            lambda t: tf.debugging.assert_all_finite(t, message="ratios contain NaN or Inf"),
            lambda t: tf.debugging.assert_positive(t, message="ratios (box width / height) must be > 0"),
        ])
        return tf.ensure_shape(r, [None, None])

    def _mask(m, ref):
        m = checked(m, [
            lambda t: tf.debugging.assert_rank(t, 4, message=f"mask must be [batch, frames, {h}, {w}] uint8"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[:2], tf.shape(ref)[:2],
                                                message="mask must have the same [batch, frames] as frames"),
            lambda t: tf.debugging.assert_equal(tf.shape(t)[2:], tf.constant([h, w]),
                                                message=f"mask frames must be {h}x{w}"),
        ])
        return tf.cast(tf.ensure_shape(m, [None, None, h, w]), tf.float32)[..., None] / 255.0

    def _run(feed):
        return embed(_first_tensor(compute(feed), ("embeddings", "embedding")))

    specs = [tf.TensorSpec(None, tf.uint8, name="frames"), tf.TensorSpec(None, tf.float32, name="ratios")]
    if with_mask:
        @tf.function(input_signature=specs + [tf.TensorSpec(None, tf.uint8, name="mask")])
        def serving_default(frames, ratios, mask):
            return _run({"frames": _frames(frames), "ratios": _ratios(ratios, frames), "mask": _mask(mask, frames)})
    else:
        @tf.function(input_signature=specs)
        def serving_default(frames, ratios):
            return _run({"frames": _frames(frames), "ratios": _ratios(ratios, frames)})

    module.serving_default = serving_default
    return module, {"serving_default": serving_default}
