"""TF Serving export of the skeleton-map models (keypoints in, maps rendered in the graph) and
of GaitEdge (RGB box crops + aspect ratios): signatures, reload parity, validation, warm-up."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.data.heatmaps import skeleton_maps_batch  # noqa: E402
from gait_tf.serving import export as ex  # noqa: E402
from gait_tf.serving.signatures import EXPECTED  # noqa: E402
from gait_tf.serving.warmup import example_keypoints, read_warmup_requests  # noqa: E402
from test_export import cli_block, saved_model_cli_show  # noqa: E402

SKEL = dict(channels=(4, 8, 8, 8), layers=(1, 1, 1, 1), class_num=5)
SKEL_PP = dict(layers=(1, 1, 1, 1), width=0.25, squeeze_ratio=2, class_num=5)
EDGE = dict(channels=(4, 8, 8), class_num=5, unet_widths=(4, 4, 8, 8), input_hw=(64, 64))


def _embeddings(model, x):
    return np.asarray(model(x, training=False)["embeddings"])


def _l2(e):
    flat = e.reshape(len(e), -1)
    return flat / np.linalg.norm(flat, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def skeleton_exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    out = {}
    for name, cfg in (("skeletongait", SKEL), ("skeletongait_pp", SKEL_PP)):
        model = models.create(name, **cfg)
        out[name] = (model, ex.export_model(model, root / name, model_name=name))
    return out


def test_skeleton_signatures_render_keypoints_in_the_graph(skeleton_exports):
    model, result = skeleton_exports["skeletongait"]
    assert set(result.signatures) == set(EXPECTED["skeleton_maps"])
    text = saved_model_cli_show(result.path)
    default = cli_block(text, "serving_default")
    assert "inputs['keypoints'] tensor_info:" in default and "dtype: DT_FLOAT" in default
    assert "outputs['embedding']" in default
    assert "inputs['skeleton_maps']" in cli_block(text, "heatmaps")
    rng = np.random.default_rng(0)
    kp = example_keypoints(2, 5, rng)
    kp[1, 2, 4] = 0.0  # a missing joint: padded from the neighbouring frames in the graph
    maps = skeleton_maps_batch(kp).numpy()
    ref = _embeddings(model, maps)
    loaded = tf.saved_model.load(str(result.path))
    out = loaded.signatures["serving_default"](keypoints=tf.constant(kp))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(out["embedding"].numpy(), _l2(ref), atol=1e-5)
    # pre-rendered uint8 maps give the same embeddings
    maps_u8 = np.round(maps * 255).astype(np.uint8)
    out = loaded.signatures["heatmaps"](skeleton_maps=tf.constant(maps_u8))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    assert len(read_warmup_requests(result.path)) == 4  # 2 batch sizes x 2 signatures
    # bad requests fail with a readable message
    for bad, message in ((kp[..., :2], "COCO-17"), (np.where(np.isnan(kp), 0, np.nan), "NaN"),
                         (kp * np.float32([1, 1, 2]), r"scores must be in \[0, 1\]"), (kp[:, :0], "at least one frame")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            loaded.signatures["serving_default"](keypoints=tf.constant(bad, tf.float32))


def test_skeleton_silhouette_signatures(skeleton_exports):
    model, result = skeleton_exports["skeletongait_pp"]
    assert set(result.signatures) == set(EXPECTED["skeleton_silhouette"])
    rng = np.random.default_rng(1)
    kp = example_keypoints(2, 4, rng)
    sils = (rng.random((2, 4, 64, 44)) > 0.5).astype(np.uint8) * 255
    x = np.concatenate([skeleton_maps_batch(kp).numpy(), sils[..., None].astype(np.float32) / 255], axis=-1)
    ref = _embeddings(model, x)
    loaded = tf.saved_model.load(str(result.path))
    out = loaded.signatures["serving_default"](keypoints=tf.constant(kp), silhouettes=tf.constant(sils))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same \\[batch, frames\\]"):
        loaded.signatures["serving_default"](keypoints=tf.constant(kp), silhouettes=tf.constant(sils[:, :3]))


def test_gaitedge_signature_takes_crops_and_ratios(tmp_path):
    model = models.create("gaitedge", **EDGE)
    # the crop size comes from the model (64 x 64 here), not the registry's default (128 x 128)
    result = ex.export_model(model, tmp_path / "gaitedge", model_name="gaitedge")
    assert set(result.signatures) == {"serving_default"}
    default = cli_block(saved_model_cli_show(result.path), "serving_default")
    assert "inputs['frames']" in default and "inputs['ratios']" in default
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (2, 3, 64, 64, 3), dtype=np.uint8)
    ratios = rng.uniform(0.3, 0.6, (2, 3)).astype(np.float32)
    ref = _embeddings(model, {"frames": frames.astype(np.float32) / 255, "ratios": ratios})
    loaded = tf.saved_model.load(str(result.path))
    out = loaded.signatures["serving_default"](frames=tf.constant(frames), ratios=tf.constant(ratios))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    assert len(read_warmup_requests(result.path)) == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be > 0"):
        loaded.signatures["serving_default"](frames=tf.constant(frames), ratios=tf.constant(ratios * 0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="64x64 RGB crops"):
        loaded.signatures["serving_default"](frames=tf.constant(frames[:, :, :32]), ratios=tf.constant(ratios))
