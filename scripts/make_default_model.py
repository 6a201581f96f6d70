#!/usr/bin/env python
"""Package a trained silhouette model as the shipped default (gait_tf/pretrained/weights/).

1. loads the trainer's export (``--model runs/default_realistic/model.keras``) and renames
   it ``--name`` (the model identity galleries record, so that galleries of the shipped
   weights are never confused with a user's own GaitSet);
2. calibrates the open-set threshold on **impostor pairs of realistic data**: held-out
   subjects of the ``realistic`` preset (``--calib-subjects``, never trained on), rendered
   through the front-end error model, every sequence embedded; the threshold is the
   largest distance with a false-accept rate <= ``--far`` over all pairs of sequences of
   different subjects; the genuine-pair acceptance at it is reported too;
3. writes ``<name>.keras`` and ``<name>.json`` (metadata: family, model name, input, embedding
   shape, threshold and its calibration, training recipe).

The model card ``<name>.md`` is written by hand from these figures and from
``scripts/real_eval.py`` (run after this script). ``--calibrate-only`` prints the calibration
of a comparison model (another family or preset) and writes nothing.

Usage::

    python scripts/make_default_model.py --model runs/default_realistic/model.keras \\
        --config training/configs/default_realistic.yaml --calib-subjects 1001-1024 --far 0.05
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def calibrate(model, subjects, far, seed, views, conditions, workers, realism="realistic"):
    from gait_tf.data import load_dataset
    from gait_tf.evaluation.distance import pairwise_distance
    from gait_tf.evaluation.embed import embed_dataset
    from gait_tf.gallery import threshold_for_far
    from gait_tf.synth.dataset import write_dataset

    with tempfile.TemporaryDirectory(prefix="gait_tf-calib-") as tmp:
        write_dataset(tmp, "opengait", subjects=subjects, conditions=conditions, views=views, seed=seed,
                      image_size=(120, 160), n_frames=40, workers=workers, realism=realism)
        ds = load_dataset(tmp, layout="opengait")
        out = embed_dataset(model, ds)
    emb, subj = out["embeddings"], np.asarray(out["subjects"]).astype(str)
    d = pairwise_distance(emb, emb)
    iu = np.triu_indices(len(emb), 1)
    same = subj[iu[0]] == subj[iu[1]]
    pairs = d[iu]
    thr = threshold_for_far(pairs[~same], far)
    return {"threshold": thr, "far_target": far, "far": float((pairs[~same] <= thr).mean()),
            "tar": float((pairs[same] <= thr).mean()), "impostor_pairs": int((~same).sum()),
            "genuine_pairs": int(same.sum()), "subjects": len(set(subj)), "sequences": int(len(emb)),
            "data": {"preset": realism, "seed": seed, "subjects": subjects, "views": views,
                     "conditions": conditions}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the trainer's model.keras")
    p.add_argument("--config", required=True, help="the training recipe (copied into the metadata)")
    p.add_argument("--summary", default=None, help="the trainer's summary JSON (steps, budget)")
    p.add_argument("--name", default="default", help="shipped name (file stem)")
    p.add_argument("--model-name", default="gait_default", help="model identity recorded by galleries")
    p.add_argument("--calib-subjects", default="1001-1024")
    p.add_argument("--calib-views", default="000,036,072,090,108,144,180")
    p.add_argument("--calib-conditions", default="nm-01,nm-02,bg-01,cl-01")
    p.add_argument("--far", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--realism", default="realistic",
                   help="preset of the calibration walkers (the shipped model: realistic)")
    p.add_argument("--calibrate-only", action="store_true",
                   help="print the calibration JSON and write nothing (thresholds of comparison models)")
    p.add_argument("--out", default=str(REPO / "gait_tf" / "pretrained" / "weights"))
    args = p.parse_args(argv)

    import keras
    import yaml

    from gait_tf.evaluation.embed import load_model
    from gait_tf.utils import write_json

    trained = load_model(args.model)
    model = keras.Model(trained.input, trained.output, name=args.model_name)  # dict outputs kept
    family = trained.name
    dummy = np.zeros((1, 8, 64, 44, 1), np.float32)
    shape = list(np.asarray(model(dummy, training=False)["embeddings"]).shape[1:])
    np.testing.assert_allclose(model(dummy)["embeddings"], trained(dummy)["embeddings"], atol=0)
    cal = calibrate(model, args.calib_subjects, args.far, args.seed, args.calib_views.split(","),
                    args.calib_conditions.split(","), args.workers, args.realism)
    print(json.dumps(cal, indent=2))
    if args.calibrate_only:
        return cal
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{args.name}.keras"
    model.save(target)
    recipe = yaml.safe_load(Path(args.config).read_text())
    summary = json.loads(Path(args.summary).read_text()) if args.summary else None
    meta = {"name": args.name, "model_name": args.model_name, "family": family,
            "input": {"shape": "[B, T, 64, 44, 1]", "dtype": "float32", "range": [0, 1],
                      "layout": "OpenGait-pretreated silhouettes, central 44 of 64 columns"},
            "output": {"embeddings": "[B, parts, dim]"}, "embedding_shape": shape,
            "metric": "euc (mean over parts of the per-part Euclidean distance)",
            "threshold": cal["threshold"], "calibration": cal, "config": recipe,
            "config_file": str(Path(args.config).relative_to(REPO)) if Path(args.config).is_absolute() else args.config,
            "training": summary, "parameters": int(model.count_params()),
            "size_bytes": target.stat().st_size}
    write_json(out / f"{args.name}.json", meta)
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB) and {out / (args.name + '.json')}")


if __name__ == "__main__":
    main()
