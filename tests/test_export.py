"""SavedModel export: signatures (saved_model_cli), reload parity, validation, versions,
models.config / batching.config / warm-up, CPU vs GPU (cuDNN) graphs, XLA, mixed precision."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from serving_helpers import keras_embeddings, random_silhouettes, tiny_silhouette_model

tf = pytest.importorskip("tensorflow")

from gait_tf.errors import ModelError, ServingError  # noqa: E402
from gait_tf.serving import export as ex  # noqa: E402
from gait_tf.serving.model_config import parse_batching_config, read_models_config  # noqa: E402
from gait_tf.serving.warmup import read_warmup_requests  # noqa: E402

SAVED_MODEL_CLI = Path(sys.executable).parent / "saved_model_cli"


def saved_model_cli_show(path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([str(SAVED_MODEL_CLI), "show", "--dir", str(path), "--all"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def cli_block(text, signature):
    """The part of `saved_model_cli show --all` output describing ``signature``."""
    start = text.index(f"signature_def['{signature}']")
    nxt = text.find("signature_def['", start + 10)
    return text[start:nxt if nxt > 0 else len(text)]


@pytest.fixture(scope="module")
def tiny():
    return tiny_silhouette_model()


@pytest.fixture(scope="module")
def tiny_export(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    result = ex.export_model(tiny, root / "tiny", input_kind="silhouette")
    return root, result


def test_silhouette_export_signatures_parity_and_files(tiny, tiny_export):
    root, result = tiny_export
    assert result.version == 1 and result.path == root / "tiny" / "1"
    assert result.cudnn_ops == []  # CPU export (default)

    # 1) saved_model_cli lists the documented signatures, inputs and outputs
    text = saved_model_cli_show(result.path)
    default = cli_block(text, "serving_default")
    assert "inputs['silhouettes'] tensor_info:" in default and "dtype: DT_UINT8" in default
    assert "outputs['embeddings']" in default and "outputs['embedding']" in default
    assert "shape: (-1, 2, 4)" in default and "shape: (-1, 8)" in default
    floating = cli_block(text, "serving_float")
    assert "inputs['silhouettes']" in floating and "dtype: DT_FLOAT" in floating

    # 2) reloaded SavedModel == Keras model (uint8 and float signatures)
    x = random_silhouettes(3, 11, seed=1)
    ref = keras_embeddings(tiny, x)
    loaded = tf.saved_model.load(str(result.path))
    out = loaded.signatures["serving_default"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    flat = ref.reshape(3, -1)
    np.testing.assert_allclose(out["embedding"].numpy(), flat / np.linalg.norm(flat, axis=1, keepdims=True),
                               atol=1e-5)
    out_f = loaded.signatures["serving_float"](silhouettes=tf.constant(x.astype(np.float32) / 255))
    np.testing.assert_allclose(out_f["embeddings"].numpy(), ref, atol=1e-5)
    # [B, T, 64, 44, 1] is accepted too; one frame is enough
    out5 = loaded.signatures["serving_default"](silhouettes=tf.constant(x[:, :1, ..., None]))
    np.testing.assert_allclose(out5["embeddings"].numpy(), keras_embeddings(tiny, x[:, :1]), atol=1e-5)

    # 3) side files: warm-up, manifest, models.config, batching.config
    requests = read_warmup_requests(result.path)
    assert len(requests) == result.warmup_requests == 2
    assert {r.model_spec.signature_name for r in requests} == {"serving_default"}
    assert [tuple(d.size for d in r.inputs["silhouettes"].tensor_shape.dim) for r in requests] == \
        [(1, 30, 64, 44), (4, 30, 64, 44)]
    manifest = ex.read_manifest(result.path)
    assert manifest["input_kind"] == "silhouette" and manifest["device"] == "cpu"
    config = read_models_config(root / "models.config")
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == ("tiny", "/models/tiny", "tensorflow")
    assert entry.model_version_policy.latest.num_versions == 1
    batching = parse_batching_config(root / "batching.config")
    assert batching["max_batch_size"] == 32 and batching["pad_variable_length_inputs"] is False
    assert batching["allowed_batch_sizes"][-1] == batching["max_batch_size"]
    assert not [p for p in (root / "tiny").iterdir() if p.name.startswith(".")]  # no temp dir left


def test_bad_requests_fail_in_graph_with_readable_messages(tiny_export):
    _, result = tiny_export
    fn = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    x = random_silhouettes(2, 3)
    cases = [
        (x[0], "silhouettes must have rank 4"),
        (x[:, :, :, :40], "silhouettes frames must be 64x44 pixels"),
        (x[:, :0], "must contain at least one frame"),
        (np.zeros((2, 3, 64, 44, 2), np.uint8), "silhouettes must have 1 channel(s)"),
        (x[:0], "batch is empty"),
    ]
    for bad, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
            fn(silhouettes=tf.constant(bad))
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        fn(silhouettes=tf.constant(x.astype(np.float32)))  # dtype is part of the signature
    ffn = tf.saved_model.load(str(result.path)).signatures["serving_float"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"float silhouettes must be in \[0, 1\]"):
        ffn(silhouettes=tf.constant(x.astype(np.float32)))


def test_versions_and_models_config_entries(tiny, tiny_export, tmp_path):
    root = tmp_path / "saved_models"
    r1 = ex.export_model(tiny, root / "alpha", input_kind="silhouette", warmup=False)
    r2 = ex.export_model(tiny, root / "alpha", input_kind="silhouette", warmup=False)
    r3 = ex.export_model(tiny, root / "beta", input_kind="silhouette", warmup=False, version=7,
                         version_policy="all")
    assert (r1.version, r2.version, r3.version) == (1, 2, 7)
    assert ex.list_versions(root / "alpha") == [1, 2] and ex.next_version(root / "beta") == 8
    with pytest.raises(ServingError, match="version 2 of 'alpha' already exists"):
        ex.export_model(tiny, root / "alpha", input_kind="silhouette", version=2, warmup=False)
    # re-export alpha with another policy: its entry is replaced, beta's kept; a user-edited
    # batching.config is never overwritten
    (root / "batching.config").write_text("max_batch_size { value: 8 }\n")
    ex.export_model(tiny, root / "alpha", input_kind="silhouette", warmup=False, version_policy="latest:2")
    entries = {e.name: e for e in read_models_config(root / "models.config").model_config_list.config}
    assert sorted(entries) == ["alpha", "beta"]
    assert entries["alpha"].model_version_policy.latest.num_versions == 2
    assert entries["beta"].model_version_policy.WhichOneof("policy_choice") == "all"
    assert parse_batching_config(root / "batching.config") == {"max_batch_size": 8}
    assert not [p for p in root.rglob(".*")]


def test_xla_and_mixed_precision_exports(tiny, tmp_path):
    x = random_silhouettes(2, 6, seed=3)
    ref = keras_embeddings(tiny, x)
    rx = ex.export_model(tiny, tmp_path / "tiny_xla", input_kind="silhouette", xla=True, warmup=False)
    assert ex.xla_functions(rx.path), "XLA export must mark the model function _XlaMustCompile"
    out = tf.saved_model.load(str(rx.path)).signatures["serving_default"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)
    # validation stays outside the XLA cluster: still enforced
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one frame"):
        tf.saved_model.load(str(rx.path)).signatures["serving_default"](silhouettes=tf.constant(x[:, :0]))

    with pytest.raises(ServingError, match="XLA cannot compile them"):
        ex.export_model(tiny, tmp_path / "tiny_gpu_xla", input_kind="silhouette", device="gpu", xla=True,
                        warmup=False)
    assert not (tmp_path / "tiny_gpu_xla" / "1").exists()

    rm = ex.export_model(tiny, tmp_path / "tiny_fp16", input_kind="silhouette", mixed_precision=True, warmup=False)
    assert "Cast" in ex.saved_model_ops(rm.path)
    manifest = ex.read_manifest(rm.path)
    assert manifest["mixed_precision"] is True
    assert manifest["signatures"]["serving_default"]["outputs"]["embeddings"] == "DT_FLOAT"
    out16 = tf.saved_model.load(str(rm.path)).signatures["serving_default"](silhouettes=tf.constant(x))
    assert out16["embeddings"].dtype == tf.float32
    err = np.abs(out16["embeddings"].numpy() - ref).max()
    assert 0 < err < 2e-2 * max(1.0, np.abs(ref).max())  # float16 compute: close, not identical


def test_gaitnn_cpu_export_has_no_cudnn_op_gpu_export_has(tmp_path):
    """GaitNN with an LSTM: a CPU export must not contain CudnnRNN* ops (they have no CPU
    kernel); a GPU export uses them (forced even on this GPU-less machine)."""
    model = ex.load_model_for_export("gaitnn", preset="lstm1", random_init=True)
    cpu = ex.export_model(model, tmp_path / "gaitnn", model_name="gaitnn", warmup=False)
    gpu = ex.export_model(model, tmp_path / "gaitnn_gpu", model_name="gaitnn", device="gpu", warmup=False)
    assert cpu.cudnn_ops == [] and ex.cudnn_ops(cpu.path) == []
    assert "CudnnRNNV3" in gpu.cudnn_ops and ex.cudnn_ops(gpu.path) == gpu.cudnn_ops
    assert any(op in ex.saved_model_ops(cpu.path) for op in ("While", "StatelessWhile"))  # portable loop

    text = saved_model_cli_show(cpu.path)
    block = cli_block(text, "serving_default")
    assert "inputs['pose_features']" in block and "dtype: DT_FLOAT" in block
    assert "outputs['identification']" in block and "shape: (-1, 512)" in block

    feats = np.random.default_rng(0).random((2, 5, 17, 17, 32)).astype(np.float32) * 20
    ref = np.asarray(model(feats, training=False)["embeddings"])[:, 0]
    fn = tf.saved_model.load(str(cpu.path)).signatures["serving_default"]
    out = fn(pose_features=tf.constant(feats))
    np.testing.assert_allclose(out["identification"].numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out["embedding"].numpy(), axis=1), 1.0, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="pose_features must have 32 channels"):
        fn(pose_features=tf.constant(feats[..., :16]))

    # --weights also takes a TF1 checkpoint of the original project (gaitnn / humanpose)
    from gait_tf.pose import tf1_names

    prefix = tf1_names.save_tf1(tf1_names.gaitnn_name_map(model), tmp_path / "ckpt" / "gaitnn.ckpt")
    restored = ex.load_model_for_export("gaitnn", prefix, preset="lstm1")
    np.testing.assert_allclose(np.asarray(restored(feats, training=False)["embeddings"])[:, 0], ref, atol=1e-5)


def test_gaitset_export_matches_keras(tmp_path):
    model = ex.load_model_for_export("gaitset", random_init=True,
                                     overrides={"in_channels": (1, 4, 8, 8), "out_channels": 8})
    result = ex.export_model(model, tmp_path / "gaitset", model_name="gaitset", warmup=False)
    x = random_silhouettes(2, 9, seed=5)
    out = tf.saved_model.load(str(result.path)).signatures["serving_default"](silhouettes=tf.constant(x))
    ref = keras_embeddings(model, x)
    assert out["embeddings"].shape == ref.shape and ref.shape[1] > 1
    np.testing.assert_allclose(out["embeddings"].numpy(), ref, atol=1e-5)


def test_pose_export_matches_human_pose_network(tmp_path):
    """Same joints/probabilities/heat maps/features as HumanPoseIRNetwork on a non-299 image."""
    from gait_tf.pose import human_pose

    model = ex.load_model_for_export("humanpose", preset="fast", random_init=True)
    result = ex.export_model(model, tmp_path / "pose", model_name="humanpose", warmup=False)
    assert set(result.signatures) == {"serving_default", "heatmaps", "features"}
    text = saved_model_cli_show(result.path)
    block = cli_block(text, "serving_default")
    assert "inputs['images']" in block and "dtype: DT_UINT8" in block
    for name in ("joints_y", "joints_x", "probabilities"):
        assert f"outputs['{name}']" in block
    assert "outputs['heatmaps']" in cli_block(text, "heatmaps")

    images = np.random.default_rng(0).integers(0, 256, (1, 120, 90, 3), dtype=np.uint8)  # resized inside
    x, (h, w) = human_pose.preprocess(images)
    ref = model(x, training=False)
    heads = human_pose._heads(ref)  # what HumanPoseIRNetwork.joint_positions / heat_maps compute
    loaded = tf.saved_model.load(str(result.path))
    out = loaded.signatures["heatmaps"](images=tf.constant(images))
    np.testing.assert_allclose(out["joints_y"].numpy(), heads["y"].numpy() * h / human_pose.HEATMAP_SIZE, atol=1e-4)
    np.testing.assert_allclose(out["joints_x"].numpy(), heads["x"].numpy() * w / human_pose.HEATMAP_SIZE, atol=1e-4)
    np.testing.assert_allclose(out["probabilities"].numpy(), heads["prob"].numpy(), atol=1e-5)
    np.testing.assert_allclose(out["heatmaps"].numpy(), heads["heatmaps"].numpy(), atol=1e-5)
    assert out["joints_y"].shape == (1, 16) and float(out["joints_y"].numpy().max()) < h
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must have 3 channels \(RGB\)"):
        loaded.signatures["serving_default"](images=tf.constant(images[..., :1]))


def test_cli_export_from_keras_file_and_errors(tiny, tmp_path, capsys):
    from gait_tf import cli

    keras_path = tmp_path / "tiny.keras"
    tiny.save(keras_path)
    out_dir = tmp_path / "saved_models" / "tinycli"
    code = cli.main(["export", "gaitset", "--weights", str(keras_path), "--out", str(out_dir), "--no-warmup",
                     "--json", str(tmp_path / "export.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "exported 'tinycli' version 1" in printed and "signature serving_default" in printed
    x = random_silhouettes(1, 4)
    out = tf.saved_model.load(str(out_dir / "1")).signatures["serving_default"](silhouettes=tf.constant(x))
    np.testing.assert_allclose(out["embeddings"].numpy(), keras_embeddings(tiny, x), atol=1e-5)

    assert cli.main(["export", "gaitnn", "--out", str(tmp_path / "x")]) == 2
    assert "no --weights given for model 'gaitnn'" in capsys.readouterr().err
    assert cli.main(["export", "gaitnn", "--weights", str(tmp_path / "missing.keras"), "--out",
                     str(tmp_path / "x")]) == 2
    assert "weights file not found" in capsys.readouterr().err
    assert cli.main(["export", "gaitnn", "--random-init", "--version-policy", "newest", "--out",
                     str(tmp_path / "x")]) == 2
    assert "unknown --version-policy 'newest'" in capsys.readouterr().err
    with pytest.raises(ModelError):
        ex.load_model_for_export("gaitnn")


def test_export_refuses_the_weights_of_another_model(tmp_path, capsys):
    """`gait-tf export gaitpart --weights gaitset.keras` exported GaitSet under the GaitPart
    name; the model in a .keras file must be the one named (by its identity)."""
    from gait_tf import cli, models
    from gait_tf.evaluation.embed import model_identity

    small = models.create("gaitset", in_channels=[1, 4, 4, 8], out_channels=8, bin_num=[2, 1])
    small(random_silhouettes(1, 3).astype(np.float32)[..., None] / 255)
    small.save(tmp_path / "model.keras")  # the trainer's default name: the file name says nothing
    assert cli.main(["export", "gaitpart", "--weights", str(tmp_path / "model.keras"), "--out",
                     str(tmp_path / "saved_models" / "gaitpart")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gait-tf export: error: --weights {tmp_path / 'model.keras'} holds a 'gaitset' model, not "
                   f"'gaitpart': export it as `gait-tf export gaitset --weights {tmp_path / 'model.keras'}`, or "
                   "pass the gaitpart model's file"]
    assert not (tmp_path / "saved_models").exists()
    # identities: the registry name, whatever the Keras name of the registry's pose models
    assert model_identity(small) == "gaitset"

    class Named:
        def __init__(self, name):
            self.name = name

    assert model_identity(Named("gait_nn_model")) == "gaitnn"
    assert model_identity(Named("humanpose_mobilenet_v2")) == "humanpose"
    assert model_identity(Named("my_custom_net")) == "my_custom_net"
