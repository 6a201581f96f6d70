#!/usr/bin/env python
"""GaitNN on synthetic walkers: train on some identities, separate *held-out* identities
with a linear SVM on their identification vectors (the original project's protocol).

1. RGB walkers (``gait_tf.synth``) -> person crop 299x299 -> HumanPoseIRNetwork pose
   features ``[T, 17, 17, 32]`` (cached in ``--cache``);
2. GaitNetwork trained with softmax (or triplet) over the ``--train-subjects``;
3. identification vectors of the ``--test-subjects``' sequences; a linear SVM
   (scikit-learn ``LinearSVC``) is fitted on their ``--svm-train`` conditions and
   scored on their ``--svm-test`` conditions. The same SVM on time-averaged raw pose
   features is reported as a baseline.

    python scripts/gaitnn_svm.py --pose-weights runs/pose_fast136.weights.h5 --resolution 136 \
        --aux-channels 256 --json svm.json
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="mobilenet_v2", choices=["inception_resnet_v2", "mobilenet_v2"])
    p.add_argument("--pose-weights", help="HumanPoseIRNetwork weights (default: random init)")
    p.add_argument("--resolution", type=int, default=272, choices=[136, 272],
                   help="mobilenet_v2 backbone's internal resolution (must match --pose-weights; "
                        "scripts/pose_pckh.py trains at 136)")
    p.add_argument("--aux-channels", type=int, default=768, help="mobilenet_v2 aux tower width (pose_pckh.py: 256)")
    p.add_argument("--train-subjects", default="1-16")
    p.add_argument("--test-subjects", default="17-26")
    p.add_argument("--train-conditions", default="nm-01,nm-02,nm-03,nm-04,bg-01,cl-01")
    p.add_argument("--svm-train", default="nm-01,nm-02,nm-03,nm-04")
    p.add_argument("--svm-test", default="nm-05,nm-06,bg-01,cl-01")
    p.add_argument("--view", type=int, default=90)
    p.add_argument("--frames", type=int, default=30, help="frames per sequence")
    p.add_argument("--clip", type=int, default=20, help="training clip length")
    p.add_argument("--recurrent-unit", default="GRU", choices=["GRU", "LSTM"])
    p.add_argument("--rnn-layers", type=int, default=1)
    p.add_argument("--loss", default="softmax", choices=["softmax", "triplet"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", help="npz cache of the pose features")
    p.add_argument("--json", help="write the results as JSON here")
    return p.parse_args(argv)


def _subjects(spec):
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def pose_features(args, subjects, conditions):
    import numpy as np

    from gait_tf.pose.human_pose import HumanPoseIRNetwork
    from gait_tf.pose.training import crop_person
    from gait_tf.synth import WalkerGenerator

    kw = {"resolution": args.resolution, "aux_channels": args.aux_channels} if args.backbone == "mobilenet_v2" else {}
    net = HumanPoseIRNetwork(backbone=args.backbone, **kw)
    if args.pose_weights:
        net.restore(args.pose_weights)
    gen = WalkerGenerator(seed=args.seed)
    feats, labels, conds = [], [], []
    for s in subjects:
        for c in conditions:
            seq = gen.sequence(subject=s, condition=c, view=args.view, n_frames=args.frames)
            frames, _ = crop_person(seq.rgb, seq.joints)
            f = np.concatenate([net.feed_forward_features(frames[i:i + 16]) for i in range(0, len(frames), 16)])
            feats.append(f), labels.append(s), conds.append(c)
    return np.stack(feats), np.array(labels), np.array(conds)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    from sklearn.svm import LinearSVC

    from gait_tf.pose.gait_network import GaitNetwork
    from gait_tf.pose.training import GaitTrainer
    from gait_tf.utils.atomic import atomic_write, write_json

    train_s, test_s = _subjects(args.train_subjects), _subjects(args.test_subjects)
    train_c = args.train_conditions.split(",")
    svm_tr, svm_te = args.svm_train.split(","), args.svm_test.split(",")
    t0 = time.time()
    if args.cache and os.path.exists(args.cache):
        z = np.load(args.cache)
        tr_f, tr_l, te_f, te_l, te_c = z["tr_f"], z["tr_l"], z["te_f"], z["te_l"], z["te_c"]
    else:
        tr_f, tr_l, _ = pose_features(args, train_s, train_c)
        te_f, te_l, te_c = pose_features(args, test_s, sorted(set(svm_tr + svm_te)))
        if args.cache:
            with atomic_write(args.cache) as fh:
                np.savez(fh, tr_f=tr_f, tr_l=tr_l, te_f=te_f, te_l=te_l, te_c=te_c)
    print(f"pose features: train {tr_f.shape}, test {te_f.shape} ({time.time() - t0:.0f}s)", flush=True)

    ids = {s: i for i, s in enumerate(sorted(set(tr_l.tolist())))}
    y = np.array([ids[s] for s in tr_l])
    net = GaitNetwork(num_of_persons=len(ids), recurrent_unit=args.recurrent_unit, rnn_layers=args.rnn_layers)
    trainer = GaitTrainer(net, args.loss, learning_rate=args.lr, clipnorm=1.0)
    rng = np.random.default_rng(args.seed)
    t1, hist = time.time(), []
    for step in range(args.steps):
        if args.loss == "triplet":  # P identities x 2 sequences
            chosen = rng.choice(len(ids), max(2, args.batch_size // 2), replace=False)
            idx = np.concatenate([rng.choice(np.nonzero(y == c)[0], 2, replace=False) for c in chosen])
        else:
            idx = rng.choice(len(tr_f), args.batch_size, replace=False)
        starts = rng.integers(0, tr_f.shape[1] - args.clip + 1, len(idx))
        batch = np.stack([tr_f[i, s:s + args.clip] for i, s in zip(idx, starts)])
        hist.append(trainer.train_step(batch, np.full(len(idx), args.clip), y[idx]))
        if (step + 1) % max(1, args.steps // 10) == 0:
            print(f"gait step {step + 1}/{args.steps} loss {np.mean(hist[-20:]):.4f}", flush=True)
    print(f"trained GaitNN in {time.time() - t1:.0f}s", flush=True)

    vectors = np.stack([net.feed_forward(f)[0] for f in te_f])
    train_mask = np.isin(te_c, svm_tr)
    test_mask = np.isin(te_c, svm_te)

    def svm_acc(x):
        x = (x - x[train_mask].mean(0)) / (x[train_mask].std(0) + 1e-6)
        clf = LinearSVC(C=1.0, max_iter=20000).fit(x[train_mask], te_l[train_mask])
        pred = clf.predict(x[test_mask])
        per = {c: float((pred[te_c[test_mask] == c] == te_l[test_mask][te_c[test_mask] == c]).mean()) for c in svm_te}
        return float((pred == te_l[test_mask]).mean()), per

    acc, per_cond = svm_acc(vectors)
    base, base_per = svm_acc(te_f.mean(1).reshape(len(te_f), -1))
    result = {"backbone": args.backbone, "resolution": args.resolution, "aux_channels": args.aux_channels,
              "pose_weights": args.pose_weights, "loss": args.loss,
              "recurrent_unit": args.recurrent_unit, "rnn_layers": args.rnn_layers, "steps": args.steps,
              "train_subjects": args.train_subjects, "test_subjects": args.test_subjects,
              "svm_train": svm_tr, "svm_test": svm_te, "view": args.view, "frames": args.frames,
              "svm_accuracy": acc, "svm_accuracy_per_condition": per_cond,
              "baseline_mean_pose_features_accuracy": base, "baseline_per_condition": base_per,
              "chance": 1.0 / len(test_s), "final_loss": float(np.mean(hist[-20:])) if hist else None}
    print(f"linear SVM on GaitNN vectors of {len(test_s)} held-out identities: {100 * acc:.1f}% "
          f"(per condition {', '.join(f'{c} {100 * v:.0f}%' for c, v in per_cond.items())}); "
          f"baseline time-averaged pose features {100 * base:.1f}%; chance {100 / len(test_s):.1f}%")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
