"""GaitEdge: U-Net + gait synthesis + GaitAlign + GaitGL at parity with OpenGait's module,
GaitAlign's RoIAlign, the model's own loss, RGB box crops for training."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402
from gait_tf.errors import ModelError  # noqa: E402
from gait_tf.models import blocks  # noqa: E402
from gait_tf.models.gaitedge import GaitAlign  # noqa: E402
from torch_reference.counts import EXPECTED_PARAMS_ZOO3  # noqa: E402

TOL = 1e-4
TINY = dict(channels=(4, 8, 8), class_num=5, unet_widths=(4, 4, 8, 8), input_hw=(64, 64))
MEAN = np.array([0.485, 0.456, 0.406]) * 255
STD = np.array([0.229, 0.224, 0.225]) * 255


def _inputs(n=2, s=3, h=64, w=64, seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.random((n, s, h, w, 3)).astype("float32")
    sil = np.zeros((n, s, h, w), "float32")
    for i in range(n):
        for j in range(s):
            t, b = rng.integers(2, 12), rng.integers(44, h - 2)
            left, right = rng.integers(8, 25), rng.integers(35, w - 8)
            sil[i, j, t:b, left:right] = 1.0
    return rgb, sil, rng.uniform(0.3, 0.7, (n, s)).astype("float32")


def _reference(cfg, seed=0):
    torch = pytest.importorskip("torch")
    from torch_reference import gaitedge as E
    from torch_reference import opengait as R

    torch.manual_seed(seed)
    ref = E.GaitEdge(**cfg)
    R.kaiming_(ref, seed)
    R.randomize_bn(ref, seed)
    return ref.eval()


def _run_reference(ref, rgb, sil, ratios):
    import torch

    t_rgb = torch.from_numpy(((rgb * 255 - MEAN) / STD).astype("float32")).permute(0, 1, 4, 2, 3)
    with torch.no_grad():
        r = ref(torch.from_numpy(ratios), t_rgb, torch.from_numpy(sil))
    return {"embeddings": np.transpose(r["embeddings"].numpy(), (0, 2, 1)),
            "logits": np.transpose(r["logits"].numpy(), (0, 2, 1)),
            "segmentation": np.moveaxis(r["segmentation"].numpy(), 2, -1),
            "aligned": np.moveaxis(r["aligned"].numpy(), 2, -1)}


def _diffs(expect, out):
    return {k: float(np.abs(np.asarray(out[k]) - v).max()) for k, v in expect.items()}


@pytest.mark.parametrize("edge,align", [(True, True), (False, True), (True, False)],
                         ids=["gaitedge", "gaitgl_e2e", "no_align"])
def test_conversion_parity(edge, align, tmp_path):
    import torch

    from gait_tf.convert import convert_checkpoint

    cfg = {k: v for k, v in TINY.items() if k != "input_hw"}
    ref = _reference(dict(cfg, edge=edge, align=align))
    torch.save({"model": ref.state_dict()}, str(tmp_path / "ge.pt"))
    model = convert_checkpoint(tmp_path / "ge.pt", model="gaitedge", edge=edge, align=align, mask_input=edge, **TINY)
    rgb, sil, ratios = _inputs()
    expect = _run_reference(ref, rgb, sil, ratios)
    feed = {"frames": rgb, "ratios": ratios, **({"mask": sil[..., None]} if edge else {})}
    diffs = _diffs(expect, model(feed, training=False))
    assert max(diffs.values()) < TOL, diffs
    assert np.abs(expect["embeddings"]).max() > 1.0 and expect["aligned"].max() > 0.5  # not vacuous
    assert blocks.count_parameters(model) == sum(p.numel() for p in ref.parameters())


def test_own_mask_equals_reference_fed_its_rounded_segmentation(tmp_path):
    """Without a mask input the model's own mask (probability > 0.5) plays OpenGait's ``sils``."""
    import torch

    from gait_tf.convert import convert_checkpoint

    cfg = {k: v for k, v in TINY.items() if k != "input_hw"}
    ref = _reference(cfg, seed=1)
    torch.save({"model": ref.state_dict()}, str(tmp_path / "ge.pt"))
    model = convert_checkpoint(tmp_path / "ge.pt", model="gaitedge", **TINY)
    assert set(model.input) == {"frames", "ratios"}
    rgb, _, ratios = _inputs(seed=2)
    out = model({"frames": rgb, "ratios": ratios}, training=False)
    own = (np.asarray(out["segmentation"])[..., 0] > 0.5).astype("float32")
    assert 0.05 < own.mean() < 0.95  # a non-trivial mask
    diffs = _diffs(_run_reference(ref, rgb, own, ratios), out)
    assert max(diffs.values()) < TOL, diffs


def test_gait_align_matches_roi_align_reference():
    torch = pytest.importorskip("torch")
    from torch_reference.gaitedge import gait_align

    rng = np.random.default_rng(3)
    feat = rng.random((5, 48, 40, 2)).astype("float32")
    mask = np.zeros((5, 48, 40, 1), "float32")
    for i, (t, b, lft, r) in enumerate([(3, 45, 10, 30), (0, 48, 0, 40), (10, 20, 18, 22), (5, 40, 2, 12), (1, 2, 5, 6)]):
        mask[i, t:b, lft:r] = 1.0
    ratios = np.array([0.4, 0.9, 0.2, 0.6, 0.5], "float32")
    got = np.asarray(GaitAlign((64, 44))(feat, mask, ratios))
    expect = gait_align(torch.from_numpy(feat).permute(0, 3, 1, 2), torch.from_numpy(mask).permute(0, 3, 1, 2),
                        torch.from_numpy(ratios)).permute(0, 2, 3, 1).numpy()
    assert got.shape == (5, 64, 44, 2)
    np.testing.assert_allclose(got, expect, atol=1e-5)
    # the gradient reaches the feature map (the box itself is not differentiable)
    import tensorflow as tf

    f = tf.constant(feat)
    with tf.GradientTape() as tape:
        tape.watch(f)
        y = tf.reduce_sum(GaitAlign((64, 44))(f, mask, ratios))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(y, f)))) > 0


def test_presets_counts_and_errors():
    torch = pytest.importorskip("torch")
    from torch_reference import gaitedge as E

    spec = models.get_spec("gaitedge")
    assert spec.input_kind == "rgb_crops" and spec.input_hw == (128, 128) and spec.default_preset == "casia_b"
    with torch.device("meta"):
        assert sum(p.numel() for p in E.GaitEdge().parameters()) == EXPECTED_PARAMS_ZOO3[("gaitedge", "casia_b")]
    keras.backend.clear_session()
    model = models.create("gaitedge")
    assert blocks.count_parameters(model) == EXPECTED_PARAMS_ZOO3[("gaitedge", "casia_b")]
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert not any(name.startswith("seg_conv1_") for name in trainable)  # frozen encoder (freeze_half)
    assert "seg_up_conv2_conv0" in trainable
    with pytest.raises(ModelError, match="multiples of 8"):
        models.create("gaitedge", input_hw=(60, 64))
    with pytest.raises(ModelError, match="mask_input"):
        models.create("gaitedge", edge=False, mask_input=True, **{k: v for k, v in TINY.items()})


def test_loss_adds_segmentation_term_and_round_trip(tmp_path):
    import tensorflow as tf

    from gait_tf.models.gaitedge import GaitEdgeLoss

    model = models.create("gaitedge", **TINY)
    rgb, sil, ratios = _inputs(n=4, s=2, seed=4)
    labels = np.array([0, 0, 1, 1], np.int32)
    x = {"frames": rgb, "ratios": ratios, "mask": sil[..., None]}
    full = GaitEdgeLoss({"segmentation": 10.0}, [{"type": "triplet", "margin": 0.2}])
    none = GaitEdgeLoss({"segmentation": 0.0}, [{"type": "triplet", "margin": 0.2}])
    loss, metrics = full(model, x, labels, training=False)
    loss0, _ = none(model, x, labels, training=False)
    p = np.clip(np.asarray(model({"frames": rgb, "ratios": ratios}, training=False)["segmentation"]), 1e-7, 1 - 1e-7)
    bce = -np.mean(sil[..., None] * np.log(p) + (1 - sil[..., None]) * np.log(1 - p))
    assert float(metrics["bce/loss"]) == pytest.approx(bce, rel=1e-4)
    assert float(loss) == pytest.approx(float(loss0) + 10 * bce, rel=1e-4)
    assert tf.is_tensor(loss)
    model.save(tmp_path / "ge.keras")
    loaded = keras.saving.load_model(tmp_path / "ge.keras")
    feed = {"frames": rgb, "ratios": ratios}
    np.testing.assert_array_equal(np.asarray(model(feed, training=False)["embeddings"]),
                                  np.asarray(loaded(feed, training=False)["embeddings"]))


def test_box_crops_for_training():
    from gait_tf.train.rgb import RGBSource, RGBWalkers, crop_box

    rgb = np.zeros((2, 40, 60, 3), np.uint8)
    mask = np.zeros((2, 40, 60), bool)
    mask[0, 5:35, 20:32] = True
    rgb[0][mask[0]] = 200
    out_rgb, out_mask, ratios = crop_box(rgb, mask, (32, 32))
    assert out_mask[0].mean() > 0.9 and out_rgb[0].mean() > 150  # the box fills the crop
    assert ratios[0] == pytest.approx(12 / 30) and ratios[1] == 0.5 and out_mask[1].sum() == 0
    walkers = RGBWalkers(subjects="1-2", conditions="nm-01", views="090", image_size=(96, 128), n_frames=4,
                         out_hw=(64, 64), crop="box")
    src = RGBSource(walkers, p=2, k=1, frames=3)
    x, y = src.batch(0)
    assert set(x) == {"frames", "ratios", "mask"} and x["frames"].shape == (2, 3, 64, 64, 3)
    assert (0.2 < x["ratios"]).all() and (x["ratios"] < 0.8).all()
    src.bind(models.create("gaitedge", **TINY))
    assert set(src.example()) == {"frames", "ratios"}


def test_casia_b_star_pickles(tmp_path):
    """GaitEdge's data on disk (CASIA-B* layout), read on demand into the same batches."""
    import pickle

    from gait_tf.train.rgb import PickleRGBCrops, RGBSource, walker_embeddings

    rng = np.random.default_rng(0)
    for s in ("001", "002"):
        for cond in ("nm-01", "cl-01"):
            folder = tmp_path / s / cond / "090"
            folder.mkdir(parents=True)
            sils = np.zeros((5, 128, 128), np.uint8)
            sils[:, 20:110, 40:80] = 1
            for name, arr in (("090-rgbs.pkl", rng.integers(0, 255, (5, 3, 128, 128), dtype=np.uint8)),
                              ("090-sils.pkl", sils), ("090-ratios.pkl", np.full(5, 0.45)),
                              ("090-aligned-sils.pkl", np.zeros((5, 64, 44), np.uint8))):
                with open(folder / name, "wb") as fh:
                    pickle.dump(arr, fh)
    crops = PickleRGBCrops(tmp_path, out_hw=(64, 64), cache=2)
    assert crops.subjects == ["001", "002"] and len(crops.sequences) == 4
    src = RGBSource(crops, p=2, k=2, frames=3)
    x, y = src.batch(0)
    assert x["frames"].shape == (4, 3, 64, 64, 3) and x["mask"].max() == 1.0
    np.testing.assert_allclose(x["ratios"], 0.45)
    model = models.create("gaitedge", **TINY)
    emb = walker_embeddings(model, crops)
    assert emb["embeddings"].shape[0] == 4 and np.isfinite(emb["embeddings"]).all()
    (tmp_path / "002" / "cl-01" / "090" / "090-ratios.pkl").unlink()
    fresh = PickleRGBCrops(tmp_path, out_hw=(64, 64))
    with pytest.raises(Exception, match="ratios.pkl"):
        fresh.sequences[("002", "cl-01", "090")]
