"""``import gait_tf`` registers every gait_tf Keras object, so ``.keras`` files load in a fresh
process without touching ``gait_tf.models`` first; ``import gait_tf`` itself stays cheap."""
import json
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from gait_tf import models  # noqa: E402

TINY = {
    "gln": dict(in_channels=(1, 4, 8, 8), lateral_dim=8, hidden_dim=8, class_num=5),
    "gaitgl": dict(channels=(4, 8, 8), class_num=5),
    "skeletongait_pp": dict(layers=(1, 1, 1, 1), width=0.25, class_num=5, squeeze_ratio=2),
    "gaitedge": dict(channels=(4, 8, 8), class_num=5, unet_widths=(4, 4, 8, 8), input_hw=(64, 64)),
}


def _input(name, rng):
    if name == "gaitedge":
        return {"frames": rng.random((1, 3, 64, 64, 3)).astype("float32"), "ratios": np.full((1, 3), 0.4, "float32")}
    channels = 3 if name == "skeletongait_pp" else 1
    return rng.random((1, 3, 64, 44, channels)).astype("float32")


def _fresh(code):
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.strip().splitlines()[-1]


def test_import_is_cheap():
    out = _fresh("import sys, gait_tf; print(json.dumps(['keras' in sys.modules, 'tensorflow' in sys.modules]))"
                 .replace("import sys,", "import json, sys,"))
    assert json.loads(out) == [False, False]


@pytest.mark.parametrize("first", ["gait_tf", "keras"])
def test_load_model_in_a_fresh_process(first, tmp_path):
    rng = np.random.default_rng(0)
    expect = {}
    for name, cfg in TINY.items():
        model = models.create(name, **cfg)
        x = _input(name, rng)
        np.savez(tmp_path / f"{name}_x.npz", **(x if isinstance(x, dict) else {"x": x}))
        expect[name] = np.asarray(model(x, training=False)["embeddings"])
        model.save(tmp_path / f"{name}.keras")
    code = f"""
import json, sys
import numpy as np
import {first}
import {"keras" if first == "gait_tf" else "gait_tf"}
import keras
out = {{}}
for name in {sorted(TINY)!r}:
    model = keras.models.load_model(r"{tmp_path}/" + name + ".keras")
    with np.load(r"{tmp_path}/" + name + "_x.npz") as z:
        x = dict(z) if "x" not in z else z["x"]
    np.save(r"{tmp_path}/" + name + "_out.npy", np.asarray(model(x, training=False)["embeddings"]))
    out[name] = "ok"
print(json.dumps(out))
"""
    assert json.loads(_fresh(code)) == {name: "ok" for name in TINY}
    for name, value in expect.items():
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}_out.npy"), value)
