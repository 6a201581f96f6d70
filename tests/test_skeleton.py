"""SkeletonGait / SkeletonGait++: the keypoint -> skeleton-map renderer at parity with OpenGait's
heatmap pretreatment, the models at parity with OpenGait's modules, presets, training data."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from gait_tf import models  # noqa: E402
from gait_tf.data import heatmaps  # noqa: E402
from gait_tf.errors import ConfigError, DataError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402
from gait_tf.models.skeletongait import AttentionFusion, SkeletonMaps  # noqa: E402
from torch_reference.counts import EXPECTED_PARAMS_ZOO3  # noqa: E402

TOL = 1e-4
TINY = dict(channels=(4, 8, 8, 16), layers=(1, 2, 1, 1), class_num=5)
TINY_PP = dict(layers=(1, 1, 1, 1), width=0.5, class_num=5, squeeze_ratio=4)


def _pose(t, seed=0, missing=0.0, scale=1.0):
    """A walking-like COCO-17 sequence in a 320 x 240 image (x, y, score)."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, -90], [-5, -95], [5, -95], [-10, -92], [10, -92], [-20, -60], [20, -60], [-25, -30],
                     [25, -30], [-25, 0], [25, 0], [-12, 0], [12, 0], [-12, 45], [12, 45], [-12, 90], [12, 90]], float)
    out = []
    for i in range(t):
        xy = (base + rng.normal(0, 3, base.shape)) * scale + [160 + 2 * i, 120]
        out.append(np.concatenate([xy, rng.uniform(0.3, 1.0, (17, 1))], 1))
    out = np.array(out)
    if missing:
        gone = rng.random((t, 17)) < missing
        out[gone] = 0.0
    return out


@pytest.fixture(scope="module")
def render():
    return tf.function(lambda k: heatmaps.skeleton_maps_levels(k), reduce_retracing=True)


@pytest.mark.parametrize("t,missing,scale", [(12, 0.0, 1.0), (10, 0.2, 0.5), (6, 0.4, 2.0)])
def test_renderer_matches_opengait_pretreatment(render, t, missing, scale):
    """uint8 maps equal to the reference (scikit-learn KNN padding, matplotlib gray levels,
    OpenCV INTER_AREA) except for rare one-level quantisation-boundary cases."""
    from torch_reference.skeleton_heatmap import reference_heatmaps

    kp = _pose(t, seed=t, missing=missing, scale=scale)
    ref = reference_heatmaps(kp).astype(int)  # [T, 2, 64, 64]
    got = np.transpose(render(tf.constant(kp[None], tf.float32)).numpy()[0], (0, 3, 1, 2)).astype(int)
    diff = np.abs(ref - got)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-4, (diff > 0).sum()
    assert (ref > 0).mean() > 0.2  # not vacuous: the maps are drawn


def test_renderer_pieces():
    # padding: a missing joint is filled from its nearest frames; no padding when a
    # coordinate is missing in every frame (the reference's fallback)
    from torch_reference.skeleton_heatmap import pad_keypoints

    kp = _pose(8, seed=1, missing=0.15)
    xy = kp[..., :2].reshape(1, 8, 34)
    got = heatmaps.pad_missing_keypoints(tf.constant(xy)).numpy()[0]
    np.testing.assert_allclose(got, pad_keypoints(kp)[..., :2].reshape(8, 34), rtol=1e-9, atol=1e-9)
    assert (got[xy[0] == 0] != 0).all()
    kp[:, 3] = 0.0
    xy = kp[..., :2].reshape(1, 8, 34)
    np.testing.assert_array_equal(heatmaps.pad_missing_keypoints(tf.constant(xy)).numpy(), xy)
    # the gray lookup table is matplotlib's
    from matplotlib import cm

    v = np.linspace(0, 1, 4097, dtype=np.float32)
    lut = heatmaps.quantise(tf.constant(v)).numpy()
    np.testing.assert_array_equal(lut, (cm.gray(v)[..., :3] * 255).astype(np.uint8).mean(-1))
    # frames without any confident joint give empty maps; the output is the model input
    kp = _pose(3, seed=2)
    kp[1, :, 2] = 0.0
    maps = heatmaps.skeleton_maps(kp).numpy()
    assert maps.shape == (3, 64, 44, 2) and maps.dtype == np.float32
    assert maps[1].max() == 0.0 and maps[0, ..., 0].max() > 0.5 and maps[0, ..., 1].max() > 0.5
    with pytest.raises(ValueError, match=r"\[batch, frames, 17, 3\]"):
        heatmaps.skeleton_maps_batch(np.zeros((1, 2, 18, 3), np.float32))


def test_renderer_in_tf_data():
    """The renderer is plain TF ops: it runs inside a tf.data map (graph mode) as eagerly."""
    kp = np.stack([_pose(5, seed=s) for s in (4, 5)]).astype(np.float32)
    eager = heatmaps.skeleton_maps_batch(kp).numpy()
    ds = tf.data.Dataset.from_tensor_slices(kp).map(heatmaps.skeleton_maps).batch(2)
    np.testing.assert_array_equal(next(iter(ds)).numpy(), eager)


def test_skeleton_maps_layer_round_trip(tmp_path):
    inp = keras.Input((None, 17, 3), name="keypoints")
    out = SkeletonMaps(name="maps")(inp)
    model = keras.Model(inp, out)
    kp = _pose(4, seed=3)[None].astype(np.float32)
    ref = np.asarray(model(kp))
    assert ref.shape == (1, 4, 64, 44, 2)
    model.save(tmp_path / "maps.keras")
    np.testing.assert_array_equal(np.asarray(keras.saving.load_model(tmp_path / "maps.keras")(kp)), ref)


def test_presets_and_reference_parameter_counts():
    torch = pytest.importorskip("torch")
    from torch_reference import resnet_gait as G

    assert models.get_spec("skeletongait").input_kind == "skeleton_maps"
    assert models.get_spec("skeletongait_pp").input_kind == "skeleton_silhouette"
    with torch.device("meta"):
        for (name, preset), count in ((k, v) for k, v in EXPECTED_PARAMS_ZOO3.items() if k[0].startswith("skel")):
            cfg = models.get_spec(name).presets[preset]
            if name == "skeletongait":
                ref = G.DeepGaitV2(mode="p3d", in_channels=2, layers=cfg["layers"], class_num=cfg["class_num"])
            else:
                ref = G.SkeletonGaitPP(blocks=cfg["layers"], C=cfg["width"], class_num=cfg["class_num"])
            assert sum(p.numel() for p in ref.parameters()) == count, (name, preset)
    keras.backend.clear_session()
    full = models.create("skeletongait_pp", preset="ccpg")
    assert blocks.count_parameters(full) == EXPECTED_PARAMS_ZOO3[("skeletongait_pp", "ccpg")]


def _reference(cls, cfg):
    torch = pytest.importorskip("torch")
    from torch_reference import opengait as R

    torch.manual_seed(0)
    ref = cls(**cfg)
    R.kaiming_(ref, 0)
    R.randomize_bn(ref, 0)
    return ref.eval()


def _parity(ref, model, channels, tmp_path=None):
    import torch

    rng = np.random.default_rng(0)
    worst, scale = 0.0, 0.0
    for t in (1, 4):
        x = rng.random((2, t, channels, 64, 44)).astype("float32")
        if channels == 3:
            x[:, :, 2] = x[:, :, 2] > 0.5
        with torch.no_grad():
            r = ref(torch.from_numpy(x))
        out = model(np.transpose(x, (0, 1, 3, 4, 2)), training=False)
        for key in ("embeddings", "logits"):
            value = np.transpose(r[key].numpy(), (0, 2, 1))
            worst = max(worst, float(np.abs(np.asarray(out[key]) - value).max()))
            scale = max(scale, float(np.abs(value).max()))
    return worst, scale


def test_skeletongait_conversion_parity(tmp_path):
    import torch

    from gait_tf.convert import convert_checkpoint
    from torch_reference import resnet_gait as G

    ref = _reference(G.DeepGaitV2, dict(TINY, in_channels=2))
    torch.save({"model": ref.state_dict()}, str(tmp_path / "skel.pt"))
    model = convert_checkpoint(tmp_path / "skel.pt", model="skeletongait", **TINY)
    worst, scale = _parity(ref, model, 2)
    assert worst < TOL and scale > 1.0, (worst, scale)
    # a DeepGaitV2 checkpoint of silhouettes (1 input channel) does not fit
    sil = _reference(G.DeepGaitV2, TINY)
    torch.save({"model": sil.state_dict()}, str(tmp_path / "sil.pt"))
    with pytest.raises(Exception, match="layer0.forward_block.0.weight"):
        convert_checkpoint(tmp_path / "sil.pt", model="skeletongait", **TINY)


def test_skeletongait_pp_conversion_parity_and_round_trip(tmp_path):
    import torch

    from gait_tf.convert import convert_checkpoint
    from torch_reference import resnet_gait as G

    ref = _reference(G.SkeletonGaitPP, dict(blocks=(1, 1, 1, 1), C=0.5, class_num=5, squeeze_ratio=4))
    torch.save({"model": ref.state_dict()}, str(tmp_path / "pp.pt"))
    model = convert_checkpoint(tmp_path / "pp.pt", model="skeletongait_pp", **TINY_PP)
    worst, scale = _parity(ref, model, 3)
    assert worst < TOL and scale > 1.0, (worst, scale)
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())
    x = np.random.default_rng(1).random((1, 3, 64, 44, 3)).astype("float32")
    model.save(tmp_path / "pp.keras")
    a = np.asarray(model(x, training=False)["embeddings"])
    b = np.asarray(keras.saving.load_model(tmp_path / "pp.keras")(x, training=False)["embeddings"])
    np.testing.assert_array_equal(a, b)


def test_fusion_weights_the_two_branches():
    """Softmax over the pair: the output lies between the silhouette and map features."""
    layer = AttentionFusion(8, squeeze_ratio=4)
    rng = np.random.default_rng(0)
    sil, heat = rng.normal(size=(2, 4, 4, 8)).astype("float32"), rng.normal(size=(2, 4, 4, 8)).astype("float32")
    out = np.asarray(layer(sil, heat))
    lo, hi = np.minimum(sil, heat), np.maximum(sil, heat)
    assert ((out >= lo - 1e-6) & (out <= hi + 1e-6)).all()
    np.testing.assert_allclose(np.asarray(layer(sil, sil)), sil, atol=1e-6)


def test_synthetic_walkers_and_source(tmp_path):
    from gait_tf.train.skeleton import SkeletonSource, SkeletonWalkers, skeleton_embeddings

    walkers = SkeletonWalkers(subjects="1-2", conditions="nm-01,cl-01", views="090", image_size=(96, 128),
                              n_frames=5, workers=1, cache_dir=tmp_path)
    assert len(walkers.keys()) == 4
    maps, sils = walkers.load(("001", "nm-01", "090"))
    assert maps.shape == (5, 64, 44, 2) and maps.dtype == np.uint8 and sils.shape == (5, 64, 44)
    assert maps[..., 0].max() > 200 and maps[..., 1].max() > 200 and sils.max() == 255
    kp = walkers.keypoints[("001", "nm-01", "090")]
    assert kp.shape == (5, 17, 3) and {round(float(v), 2) for v in np.unique(kp[..., 2])} <= {0.95, 0.45}
    again = SkeletonWalkers(subjects="1-2", conditions="nm-01,cl-01", views="090", image_size=(96, 128),
                            n_frames=5, workers=1, cache_dir=tmp_path)  # from the cache
    np.testing.assert_array_equal(again.load(("001", "nm-01", "090"))[0], maps)
    src = SkeletonSource(walkers, p=2, k=2, frames=3, seed=4, channels=3)
    x, y = src.batch(7)
    assert x.shape == (4, 3, 64, 44, 3) and y.tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    np.testing.assert_array_equal(src.batch(7)[0], x)  # a pure function of (seed, i)
    with pytest.raises(ConfigError, match="checkpoint data state"):
        src._check({**src.state(3), "p": 3})
    with pytest.raises(ConfigError, match="data.p=3"):
        SkeletonSource(walkers, p=3, k=2, frames=3)
    model = models.create("skeletongait_pp", **TINY_PP)
    emb = skeleton_embeddings(model, walkers, channels=3)
    assert emb["embeddings"].shape == (4, 1, 16 * 64) and sorted(set(emb["conditions"])) == ["cl-01", "nm-01"]


def test_heatmap_pickles_on_disk(tmp_path):
    import pickle

    from gait_tf.train.skeleton import PickleSkeletons, SkeletonSource

    rng = np.random.default_rng(0)
    for s in ("001", "002"):
        folder = tmp_path / s / "nm-01" / "000"
        folder.mkdir(parents=True)
        with open(folder / "0_heatmap.pkl", "wb") as fh:
            pickle.dump(rng.integers(0, 255, (6, 2, 64, 64), dtype=np.uint8), fh)
        with open(folder / "1_sils.pkl", "wb") as fh:
            pickle.dump(rng.integers(0, 255, (6, 64, 64), dtype=np.uint8), fh)
    store = PickleSkeletons(tmp_path, need_silhouettes=True)
    maps, sils = store.load(("001", "nm-01", "000"))
    assert maps.shape == (6, 64, 44, 2) and sils.shape == (6, 64, 44)
    x, _ = SkeletonSource(store, p=2, k=1, frames=4, channels=3).batch(0)
    assert x.shape == (2, 4, 64, 44, 3) and 0.0 <= x.min() and x.max() <= 1.0
    (tmp_path / "002" / "nm-01" / "000" / "0_heatmap.pkl").unlink()
    with pytest.raises(DataError, match="no heatmap pickle"):
        store.load(("002", "nm-01", "000"))
