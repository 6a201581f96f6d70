"""ONNX and LiteRT export: parity with TensorFlow in onnxruntime / the LiteRT interpreter,
dynamic axes, int8 calibration, the 3-D pooling rewrite, clear failures, the CLI."""
import os
import subprocess
import sys

import numpy as np
import pytest

from serving_helpers import tiny_silhouette_model

tf = pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("ai_edge_litert")

import keras  # noqa: E402

from gait_tf.cli import main as cli_main  # noqa: E402
from gait_tf.errors import ServingError  # noqa: E402
from gait_tf.serving import formats, portable  # noqa: E402

SMALL_GAITSET = ["--set", "in_channels=[1,4,8,8]", "--set", "out_channels=8"]


def pool3d_model():
    """[B, T, 64, 44, 1] -> embeddings [B, 7, 8] through true 3-D max pools (3x3x3 stride 2,
    valid and same padding) and a (1, 2, 2) pool, as in GaitGL / 3D Local CNN."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((None, 64, 44, 1))
    x = keras.layers.Conv3D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling3D((1, 2, 2))(x)
    x = keras.layers.MaxPooling3D(3, 2, padding="same")(x)
    x = keras.layers.MaxPooling3D(3, 2)(x)
    x = keras.layers.Conv3D(8, 1)(x)
    x = keras.layers.Lambda(lambda t: keras.ops.max(t, axis=(1, 3)))(x)  # [B, 7, 8]
    return keras.Model(inp, {"embeddings": x}, name="pool3d")


@pytest.fixture(scope="module")
def tiny():
    return tiny_silhouette_model()


def _ort_run(path, x):
    sess = formats.onnx_session(path, threads=1)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))


def test_onnx_export_parity_and_dynamic_axes(tiny, tmp_path):
    out = tmp_path / "tiny.onnx"
    result = formats.export_onnx(tiny, out, input_kind="silhouette")
    assert out.is_file() and result.size_bytes == out.stat().st_size
    assert result.max_abs_diff <= 1e-4 and result.input_shape == [None, None, 64, 44, 1]
    assert sorted(result.outputs) == ["embedding", "embeddings"]
    sess = formats.onnx_session(out)
    assert sess.get_inputs()[0].shape[:2] == ["batch", "frames"]
    # a shape the export never saw: batch 5, 17 frames
    x = portable.example_inputs("silhouette", shapes=((5, 17),), seed=7)[0]
    got = _ort_run(out, x)
    ref = tiny(x, training=False)["embeddings"].numpy()
    np.testing.assert_allclose(got["embeddings"], ref, atol=1e-4)
    flat = ref.reshape(5, -1)
    np.testing.assert_allclose(got["embedding"], flat / np.linalg.norm(flat, axis=1, keepdims=True), atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.onnx"]  # no temporary file left


def test_litert_float32_and_int8(tiny, tmp_path):
    f32 = formats.export_litert(tiny, tmp_path / "tiny.tflite", input_kind="silhouette")
    assert f32.max_abs_diff <= 1e-4
    calibration = portable.example_inputs("silhouette", shapes=((1, 20),) * 8, seed=11)
    q = formats.export_litert(tiny, tmp_path / "tiny_int8.tflite", input_kind="silhouette", quantize="int8",
                              calibration=calibration)
    assert q.min_cosine >= 0.99 and q.max_abs_diff > 1e-6  # quantized: close, not identical
    # a GRU: batch fixed to 1 (its TensorList needs a static element shape), weights-only int8
    assert f32.input_shape == [1, None, 64, 44, 1] and q.scheme.startswith("dynamic range")
    x = portable.example_inputs("silhouette", shapes=((1, 13),), seed=5)[0]
    ref = tiny(x, training=False)["embeddings"].numpy()
    for res in (f32, q):
        got = formats.LiteRTRunner(res.path)(x)["embeddings"]
        assert got.shape == ref.shape
    np.testing.assert_allclose(formats.LiteRTRunner(f32.path)(x)["embeddings"], ref, atol=1e-4)
    # the int8 file holds int8 weights: well under half the float32 file
    assert q.size_bytes < 0.45 * f32.size_bytes


def test_3d_max_pooling_runs_in_litert(tmp_path):
    model = pool3d_model()
    res = formats.export_litert(model, tmp_path / "pool3d.tflite", input_kind="silhouette")
    assert res.max_abs_diff <= 1e-5  # the separable rewrite is exact
    assert res.input_shape == [None, None, 64, 44, 1]
    q = formats.export_litert(model, tmp_path / "pool3d_int8.tflite", input_kind="silhouette", quantize="int8",
                              calibration=portable.example_inputs("silhouette", shapes=((1, 16),) * 6, seed=2))
    assert "calibrated on 6 inputs" in q.scheme and q.min_cosine >= 0.99
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling3D)]
    assert len(pools) == 3 and all("call" not in vars(layer) for layer in pools)  # the rewrite is undone


def test_unsupported_model_gets_one_line_and_no_file(tmp_path):
    inp = keras.Input((None, 64, 44, 1))
    x = keras.layers.Conv3D(4, (1, 4, 4), strides=(1, 4, 4))(inp)  # [B, T, 16, 11, 4]
    y = keras.layers.Lambda(lambda t: keras.ops.max(t[:, :, :, None, None, :], axis=(1, 3, 4)))(x)  # 6-D slice
    model = keras.Model(inp, {"embeddings": keras.layers.Reshape((16, 44))(y)})
    with pytest.raises(ServingError) as err:
        formats.export_litert(model, tmp_path / "six_d.tflite", input_kind="silhouette")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("LiteRT: cannot convert") and "StridedSlice" in msg
    assert list(tmp_path.iterdir()) == []


def test_synthetic_calibration_is_walkers():
    data = portable.synthetic_calibration("silhouette", sequences=3, frames=8)
    assert len(data) == 3 and all(d.shape == (1, 8, 64, 44, 1) and d.dtype == np.float32 for d in data)
    x = np.concatenate(data)
    assert 0.05 < x.mean() < 0.5 and set(np.unique(x > 0.5)) == {False, True}  # a person, not noise
    assert not np.array_equal(data[0], data[1])
    with pytest.raises(ServingError, match="pose features"):
        portable.synthetic_calibration("pose_features")


def test_cli_formats_and_bad_input(tmp_path, capsys):
    out = tmp_path / "g.onnx"
    assert cli_main(["export", "gaitset", "--random-init", *SMALL_GAITSET, "--format", "onnx", "--out", str(out),
                     "--json", str(tmp_path / "g.json")]) == 0
    text = capsys.readouterr().out
    assert "exported 'gaitset' as onnx" in text and "max |diff|" in text and out.is_file()
    before = out.read_bytes()
    cases = [
        (["--format", "onnx", "--out", str(out)], "already exists"),
        (["--format", "onnx", "--out", str(tmp_path / "g.tflite")], "must end in .onnx"),
        (["--format", "onnx", "--quantize", "int8", "--out", str(tmp_path / "h.onnx")], "litert only"),
        (["--format", "litert", "--xla", "--out", str(tmp_path / "h.tflite")], "--xla applies to --format savedmodel"),
        (["--format", "litert", "--atol", "nan", "--out", str(tmp_path / "h.tflite")], "--atol"),
        (["--format", "litert", "--quantize", "int8", "--calibration-data", str(tmp_path / "none.npy"),
          "--out", str(tmp_path / "h.tflite")], "calibration data not found"),
    ]
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 10, 32, 32), np.float32))
    cases.append((["--format", "litert", "--quantize", "int8", "--calibration-data", str(bad),
                   "--out", str(tmp_path / "h.tflite")], "calibration data of shape (2, 10, 32, 32)"))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((2, 10, 64, 44), np.nan, np.float32))
    cases.append((["--format", "litert", "--quantize", "int8", "--calibration-data", str(nan),
                   "--out", str(tmp_path / "h.tflite")], "NaN"))
    for extra, expected in cases:
        try:
            code = cli_main(["export", "gaitset", "--random-init", *SMALL_GAITSET, *extra])
        except SystemExit as exc:  # argparse refuses the bad number itself
            code = exc.code
        assert code == 2, extra
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1, (extra, err)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "g.json", "g.onnx", "nan.npy"]


def test_cli_litert_int8_with_calibration_file(tmp_path):
    calib = tmp_path / "calib.npy"
    np.save(calib, (np.concatenate(portable.synthetic_calibration("silhouette", sequences=4, frames=10))[..., 0]
                    * 255).astype(np.uint8))
    out = tmp_path / "g8.tflite"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "gait_tf", "export", "gaitset", "--random-init", *SMALL_GAITSET,
                           "--format", "litert", "--quantize", "int8", "--calibration-data", str(calib),
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "as litert (int8)" in proc.stdout and out.is_file()
    x = portable.example_inputs("silhouette", shapes=((2, 12),))[0]
    got = formats.LiteRTRunner(out)(x)
    assert got["embeddings"].shape == (2, 62, 8) and np.all(np.isfinite(got["embedding"]))
