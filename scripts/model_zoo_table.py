"""Print the model zoo table: every registered model's parameter count per preset.

    python scripts/model_zoo_table.py [--models gaitset gln] [--markdown] [--json out.json]
    python scripts/model_zoo_table.py --parity    # + PyTorch parity at full size (needs torch)
    python scripts/model_zoo_table.py --parity --models deepgaitv2 skeletongait_pp --frames 10

Parameters are counted as PyTorch does (BatchNorm moving statistics excluded). ``--parity``
builds the OpenGait-architecture torch references of tests/torch_reference at each model's
CASIA-B size, converts a random OpenGait-format checkpoint with ``gait_tf.convert`` and prints
the max abs difference of the embeddings (eval mode, 2 sequences of ``--frames`` frames).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]


def zoo_rows(names=None):
    import keras

    from gait_tf import models
    from gait_tf.models.blocks import count_parameters

    rows = []
    for name in names or models.list_models():
        spec = models.get_spec(name)
        for preset in sorted(spec.presets) or [None]:
            keras.backend.clear_session()
            try:
                model = models.create(name, preset=preset)
                try:  # functional models have symbolic outputs; subclassed ones may not
                    outs = model.output if isinstance(model.output, dict) else {"output": model.output}
                    shapes = {k: list(v.shape[1:]) for k, v in outs.items()}
                except (AttributeError, ValueError):
                    shapes = {}
                rows.append({"model": name, "preset": preset, "input_kind": spec.input_kind,
                             "parameters": count_parameters(model), "outputs": shapes})
            except Exception as exc:  # report, keep going
                rows.append({"model": name, "preset": preset, "error": f"{type(exc).__name__}: {exc}"})
    return rows


# torch reference configs for the CASIA-B presets (tests/torch_reference/opengait.py)
PARITY = {
    "gaitset": ("casia_b", {}),
    "gaitpart": ("casia_b", {"layers_cfg": ["BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3"]}),
    "gln": ("casia_b", {}),
    "gaitgl": ("casia_b", {}),
}


# the ResNet-style, skeleton and end-to-end models (tests/torch_reference/{resnet_gait,gaitedge}.py):
# label -> (registry model, preset, overrides, torch reference factory)
def _zoo3():
    from torch_reference import gaitedge as E
    from torch_reference import resnet_gait as G

    return {
        "gaitbase": ("gaitbase", "casia_b", {}, lambda: G.Baseline(maxpool=False)),
        "deepgaitv2": ("deepgaitv2", "casia_b", {}, lambda: G.DeepGaitV2(mode="p3d")),
        "deepgaitv2-2d": ("deepgaitv2", "casia_b", {"mode": "2d"}, lambda: G.DeepGaitV2(mode="2d")),
        "deepgaitv2-3d": ("deepgaitv2", "casia_b", {"mode": "3d"}, lambda: G.DeepGaitV2(mode="3d")),
        "skeletongait": ("skeletongait", "gait3d", {},
                         lambda: G.DeepGaitV2(mode="p3d", in_channels=2, layers=(1, 4, 4, 1), class_num=3000)),
        "skeletongait_pp": ("skeletongait_pp", "gait3d", {}, lambda: G.SkeletonGaitPP(class_num=3000)),
        # the shallow presets: random deep residual stacks grow the outputs to O(1e4) (gait3d)
        "skeletongait-ccpg": ("skeletongait", "ccpg", {},
                              lambda: G.DeepGaitV2(mode="p3d", in_channels=2, class_num=100, use_emb2=True)),
        "skeletongait_pp-ccpg": ("skeletongait_pp", "ccpg", {}, lambda: G.SkeletonGaitPP(blocks=(1, 1, 1, 1), class_num=100)),
        "gaitedge": ("gaitedge", "casia_b", {"mask_input": True}, lambda: E.GaitEdge()),
    }


def _zoo3_inputs(name, frames, rng):
    """(torch args, Keras input) of 2 random sequences for a model of :func:`_zoo3`."""
    import numpy as np
    import torch

    if name == "gaitedge":
        rgb = rng.random((2, frames, 128, 128, 3)).astype("float32")
        sil = np.zeros((2, frames, 128, 128), "float32")
        sil[:, :, 10:120, 40:90] = 1.0
        ratios = np.full((2, frames), 0.45, "float32")
        mean, std = np.array([0.485, 0.456, 0.406]) * 255, np.array([0.229, 0.224, 0.225]) * 255
        t_rgb = torch.from_numpy(((rgb * 255 - mean) / std).astype("float32")).permute(0, 1, 4, 2, 3)
        return ((torch.from_numpy(ratios), t_rgb, torch.from_numpy(sil)),
                {"frames": rgb, "ratios": ratios, "mask": sil[..., None]})
    channels = {"skeletongait": 2, "skeletongait_pp": 3}.get(name, 1)
    x = (rng.random((2, frames, channels, 64, 44)) > 0.5).astype("float32")
    if channels == 1:
        return (torch.from_numpy(x[:, :, 0]),), x[:, :, 0, ..., None]
    return (torch.from_numpy(x),), np.transpose(x, (0, 1, 3, 4, 2))


def parity_rows(frames=30, names=None):
    import numpy as np
    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from torch_reference import opengait as R

    from gait_tf.convert import convert_checkpoint

    rows = []
    rng = np.random.default_rng(0)
    for label, (name, preset, overrides, factory) in _zoo3().items():
        if names and name not in names and label not in names:
            continue
        torch.manual_seed(0)
        ref = factory()
        R.kaiming_(ref)
        R.randomize_bn(ref)
        ref.eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pt"
            torch.save({"model": ref.state_dict()}, str(path))
            model = convert_checkpoint(path, model=name, preset=preset, **overrides)
        t_args, k_in = _zoo3_inputs(name, frames, rng)
        with torch.no_grad():
            r = ref(*t_args)["embeddings"].numpy().transpose(0, 2, 1)
        k = np.asarray(model(k_in, training=False)["embeddings"])
        rows.append({"model": label, "preset": preset, "frames": frames, "max_abs_diff": float(np.abs(k - r).max()),
                     "max_abs_embedding": float(np.abs(r).max())})
        print(f"parity {label}: {rows[-1]}", flush=True)
    for name, (preset, cfg) in PARITY.items():
        if names and name not in names:
            continue
        torch.manual_seed(0)
        ref = R.build(name, **cfg)
        R.kaiming_(ref)
        R.randomize_bn(ref)
        ref.eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pt"
            torch.save({"model": ref.state_dict()}, str(path))
            model = convert_checkpoint(path, model=name, preset=preset)
        x = (rng.random((2, frames, 64, 44)) > 0.5).astype("float32")
        with torch.no_grad():
            r = ref(torch.from_numpy(x))["embeddings"].numpy().transpose(0, 2, 1)
        k = np.asarray(model(x[..., None], training=False)["embeddings"])
        rows.append({"model": name, "preset": preset, "frames": frames,
                     "max_abs_diff": float(np.abs(k - r).max()), "max_abs_embedding": float(np.abs(r).max())})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description="Parameter counts of the registered models, per preset.")
    p.add_argument("--models", nargs="*", default=None,
                   help="registry names (and, with --parity, parity labels such as deepgaitv2-3d)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--parity", action="store_true", help="also measure PyTorch parity at CASIA-B size")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    from gait_tf import models

    registered = set(models.list_models())
    names = [n for n in args.models if n in registered] if args.models else None
    rows = zoo_rows(names) if names or not args.models else []  # parity-only labels (e.g. skeletongait-ccpg)
    if args.markdown:
        print("| model | preset | parameters | outputs |\n|---|---|---:|---|")
        for r in rows:
            count = f"{r['parameters']:,}" if "parameters" in r else "error"
            print(f"| {r['model']} | {r['preset']} | {count} | "
                  f"{', '.join(f'{k} {v}' for k, v in r.get('outputs', {}).items()) or r.get('error')} |")
    else:
        for r in rows:
            extra = r.get("error") or ", ".join(f"{k} {v}" for k, v in r["outputs"].items())
            count = f"{r['parameters']:,}" if "parameters" in r else "error"
            print(f"{r['model']:<12} {str(r['preset']):<16} {count:>12}  {extra}")
    report = {"zoo": rows}
    if args.parity:
        report["parity"] = parity_rows(args.frames, args.models)
        for r in report["parity"]:
            print(f"parity {r['model']:<10} {r['preset']:<8} T={r['frames']}: max |keras - torch| = "
                  f"{r['max_abs_diff']:.2e} (max |embedding| {r['max_abs_embedding']:.2f})")
    if args.json:
        sys.path.insert(0, str(REPO))
        from gait_tf.utils.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
