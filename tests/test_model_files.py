"""Bad model files are named for what they are: an empty, truncated or junk ``.keras`` file is
not "File not found" (Keras' own message), in every command that reads one."""
import zipfile

import numpy as np
import pytest

from gait_tf.cli import main
from gait_tf.errors import CheckpointError, ModelError
from gait_tf.utils.keras_files import check_keras_file, keras_file_problem, load_keras_model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A small gaitset .keras and damaged copies of it."""
    from gait_tf import models

    root = tmp_path_factory.mktemp("model_files")
    model = models.create("gaitset", in_channels=[1, 4, 4, 8], out_channels=8, bin_num=[2, 1])
    model(np.zeros((1, 4, 64, 44, 1), np.float32))
    good = root / "gaitset.keras"
    model.save(good)
    raw = good.read_bytes()
    files = {"good": good}
    for name, data in {"empty": b"", "truncated": raw[: len(raw) // 2], "junk": b"not a model at all\n" * 10,
                       "hdf5": b"\x89HDF\r\n\x1a\n" + b"\0" * 100}.items():
        (root / f"{name}.keras").write_bytes(data)
        files[name] = root / f"{name}.keras"
    with zipfile.ZipFile(root / "nozip.keras", "w") as zf:
        zf.writestr("hello.txt", "a zip, but no Keras model")
    files["noconfig"] = root / "nozip.keras"
    corrupt = bytearray(raw)
    # flip bytes in the middle of the weights member: the archive's CRC check fails
    info = zipfile.ZipFile(good).getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    corrupt[start:start + 16] = bytes(b ^ 0xFF for b in corrupt[start:start + 16])
    (root / "crc.keras").write_bytes(bytes(corrupt))
    files["crc"] = root / "crc.keras"
    return files, model


EXPECTED = {
    "empty": "the file is empty (0 bytes)",
    "truncated": "a truncated or damaged .keras archive",
    "junk": "not a .keras file (not a zip archive",
    "hdf5": "an HDF5 file (a legacy .h5 model or .weights.h5), not a .keras archive",
    "noconfig": "a zip archive but not a Keras model (no config.json inside)",
    "crc": "a damaged .keras archive (member 'model.weights.h5' fails its CRC check)",
}


def test_each_kind_of_damage_is_named(model_files, tmp_path):
    files, model = model_files
    assert keras_file_problem(files["good"]) is None
    assert keras_file_problem(tmp_path / "missing.keras") == "no such file"
    assert keras_file_problem(tmp_path) == "is a folder, not a .keras file"
    for kind, expected in EXPECTED.items():
        problem = keras_file_problem(files[kind])
        assert problem is not None and problem.startswith(expected), (kind, problem)
        assert "File not found" not in problem
        with pytest.raises(CheckpointError, match=f"weights file {files[kind]}: "):
            check_keras_file(files[kind], "weights file", CheckpointError)
    loaded = load_keras_model(files["good"])
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("kind", ["empty", "truncated", "junk"])
def test_commands_name_the_damage(model_files, kind, tmp_path, capsys):
    files, _ = model_files
    bad = str(files[kind])
    gif = tmp_path / "walk.gif"
    from PIL import Image

    Image.new("L", (44, 64)).save(gif)
    from gait_tf.gallery import Gallery

    gallery = Gallery("gaitset", (2, 8))
    gallery.enroll("someone", np.ones((2, 8), np.float32))
    gallery.save(tmp_path / "people.gallery")
    for argv, prefix in [
        (["identify", "--gallery", str(tmp_path / "people.gallery"), "--model", bad, "--sequence", str(gif)],
         "gait-tf identify: error: model file"),
        (["evaluate", "--model", bad, "--data", str(tmp_path)], "gait-tf evaluate: error: model file"),
        (["export", "gaitset", "--weights", bad, "--out", str(tmp_path / "sm" / "gaitset")],
         "gait-tf export: error: --weights"),
    ]:
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(prefix) and bad in err[0] and EXPECTED[kind] in err[0], err[0]
        assert "File not found" not in err[0]


def test_training_init_weights_and_segmenter_name_the_damage(model_files):
    from gait_tf import models
    from gait_tf.segmentation.unet import UNetSegmenter
    from gait_tf.train.trainer import init_weights_from

    files, _ = model_files
    target = models.create("gaitset", in_channels=[1, 4, 4, 8], out_channels=8, bin_num=[2, 1])
    with pytest.raises(CheckpointError, match=r"model.init_weights .*truncated.keras: a truncated or damaged"):
        init_weights_from(target, files["truncated"])
    with pytest.raises(CheckpointError, match=r"empty.keras: not a loadable Keras segmenter: the file is empty"):
        UNetSegmenter.load(files["empty"])
    with pytest.raises(ModelError, match="junk.keras: not a .keras file"):
        from gait_tf.evaluation.embed import load_model

        load_model(files["junk"])


def test_convert_names_bad_pt_files_and_unknown_models_first(tmp_path, capsys, monkeypatch):
    """An empty .pt gave an empty reason, a junk one a bare number; an unknown model was
    reported only after the checkpoint had been read."""
    pytest.importorskip("torch")
    import torch

    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "good.pt")
    raw = (tmp_path / "good.pt").read_bytes()
    cases = {
        "empty.pt": (b"", "the file is empty (0 bytes)"),
        "text.pt": (b"hello world\n", "not a PyTorch checkpoint: neither a torch.save zip archive nor a pickle"),
        "cut.pt": (raw[: len(raw) // 2], "a truncated or damaged torch.save archive"),
        "pickle.pt": (b"\x80\x04\x95" + bytes(range(200)), "cannot read PyTorch checkpoint"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        out = tmp_path / f"{name}.keras"
        assert main(["convert", "--model", "gaitset", "--checkpoint", str(tmp_path / name), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and name in err[0] and expected in err[0], err
        reason = err[0].rsplit(": ", 1)[-1]
        assert reason.strip() and not reason.strip().strip("'").isdigit(), err[0]  # never empty or a bare number
        assert not out.exists()

    import gait_tf.convert.common as common

    def never(path):  # the checkpoint must not be read for a model that cannot be converted
        raise AssertionError("checkpoint read before the model name was checked")

    monkeypatch.setattr(common, "load_state_dict", never)
    assert main(["convert", "--model", "gaitnope", "--checkpoint", str(tmp_path / "good.pt"), "--out",
                 str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err
    assert "--model 'gaitnope': no PyTorch converter for this model; supported: " in err
    supported = err.strip().split("supported: ")[1].split(", ")
    assert supported == sorted(supported) and {"gaitset", "gaitpart", "gaitgl", "gaitbase", "deepgaitv2",
                                                 "skeletongait", "skeletongait_pp", "gaitedge"} <= set(supported)
    assert main(["convert", "--model", "gaitset", "--preset", "nope", "--checkpoint", str(tmp_path / "good.pt"),
                 "--out", str(tmp_path / "x.keras")]) == 2
    assert "unknown preset 'nope' for model 'gaitset'" in capsys.readouterr().err
