"""Output of the command line and of the install: only what the user asked for."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from gait_tf.utils.quiet import is_noise, silenced_fd2

REPO = Path(__file__).resolve().parents[1]


def test_cpp_log_lines_are_recognised():
    assert is_noise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert is_noise("I0000 00:00:1796220939.123412    6857 cudart_stub.cc:31] Could not find cuda drivers on "
                    "your machine, GPU will not be used.")
    assert is_noise("E0000 00:00:1796220948.029046    6857 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
                    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
    assert is_noise("W1202 14:23:52.636718   11276 add_port.cc:83] Failed to add port")
    assert not is_noise("gait-tf identify: error: walk.gif: no such file")
    assert not is_noise("Traceback (most recent call last):")
    assert not is_noise("ImportError: libcudart.so.12: cannot open shared object file")


def test_silenced_fd2_keeps_what_is_not_a_cpp_log_line(capfd):
    with silenced_fd2():
        os.write(2, b"I0000 00:00:1796220939.123412    6857 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"


def test_a_command_that_imports_tensorflow_prints_only_its_own_line(tmp_path):
    """TensorFlow's C++ lines (cudart_stub, cuInit, absl's pre-init notice) used to reach
    stderr in every command that imports it; now one line: the command's own error."""
    import keras

    from gait_tf.gallery import Gallery

    inp = keras.Input((None, 64, 44, 1))
    out = keras.layers.Reshape((1, 1))(keras.layers.GlobalMaxPooling3D()(inp))
    keras.Model(inp, {"embeddings": out}, name="flat").save(tmp_path / "flat.keras")
    gallery = Gallery("flat", (1, 1))
    gallery.enroll("someone", np.ones((1, 1), np.float32))
    gallery.save(tmp_path / "g.gallery")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    argv = [sys.executable, "-m", "gait_tf", "identify", "--gallery", str(tmp_path / "g.gallery"), "--model",
            str(tmp_path / "flat.keras"), "--sequence", str(tmp_path / "missing.gif")]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2
    # the model was loaded (TensorFlow imported) before the missing sequence was found
    assert out.stderr.splitlines() == [f"gait-tf identify: error: {tmp_path / 'missing.gif'}: no such file or folder"]
    assert out.stdout == ""


def test_setup_declares_the_package_data_folders():
    """setuptools warned ~90 lines (BuildBackendWarning: Package 'gait_tf.data.partitions' is
    absent from the `packages` configuration) on every install."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", tmp, "build_py",
                              "--build-lib", tmp], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "Warning" not in out.stderr and "absent from the `packages`" not in out.stderr, out.stderr
        for data in ("data/partitions/casia_b_lt.json", "segmentation/weights/unet_synth.keras"):
            assert (Path(tmp) / "gait_tf" / data).is_file(), data
        assert not list(Path(tmp).glob("gait_tf/**/__pycache__"))
