#!/usr/bin/env python
"""Train HumanPoseIRNetwork on synthetic walkers and report PCKh@0.5 on held-out subjects.

PCKh@0.5: a visible joint is correct when its predicted position is within 0.5 x the
head size (distance upper neck - head top, ground truth) of the true position; reported
per joint and as the mean over all visible joints of the held-out subjects' frames. A
"mean pose" baseline (training joints' mean position in the person crop) is reported too.

    nice -n 10 python scripts/pose_pckh.py --steps 900 --json pckh.json \
        --weights-out runs/pose_fast136.weights.h5

Defaults: fast backbone at internal resolution 136 (aux tower 256 wide), SCE loss with
joint pixels weighted 20x, BatchNorm momentum 0.9 while training, Adam 1e-3 with cosine
decay, batch 8.
"""
from __future__ import annotations

import argparse
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="mobilenet_v2", choices=["inception_resnet_v2", "mobilenet_v2"])
    p.add_argument("--train-subjects", default="1-12", help="range or comma list, e.g. 1-12")
    p.add_argument("--test-subjects", default="13-16")
    p.add_argument("--views", default="72,90,108")
    p.add_argument("--conditions", default="nm-01,bg-01,cl-01")
    p.add_argument("--frames-per-seq", type=int, default=8)
    p.add_argument("--steps", type=int, default=900)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"],
                   help="cosine: decay the learning rate to 0 over --steps")
    p.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop"])
    p.add_argument("--loss", default="SCE", choices=["SCE", "MSE"])
    p.add_argument("--pos-weight", type=float, default=20.0,
                   help="weight of the joint-disk pixels in the loss (1 = the original's loss)")
    p.add_argument("--bn-momentum", type=float, default=0.9,
                   help="BatchNorm moving-average momentum while training (slim's 0.999 is far too slow "
                        "for a short run); negative: keep the model's")
    p.add_argument("--resolution", type=int, default=136, choices=[136, 272],
                   help="mobilenet_v2 backbone's internal resolution (input stays 299x299)")
    p.add_argument("--aux-channels", type=int, default=256, help="mobilenet_v2 aux tower width (768 = original)")
    p.add_argument("--data-cache", help="npz cache of the cropped train/test frames")
    p.add_argument("--weights", help="start from these weights (TF1 prefix or .weights.h5)")
    p.add_argument("--weights-out", help="save the trained weights here")
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results as JSON here")
    return p.parse_args(argv)


def subjects(spec):
    out = []
    for part in str(spec).split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def pckh(pred_y, pred_x, joints, alpha=0.5):
    """``(per_joint [16], mean)`` PCKh@alpha; joints ``[N, 16, 3]`` ground truth (x, y, visible)."""
    import numpy as np

    head = np.hypot(joints[:, 8, 0] - joints[:, 9, 0], joints[:, 8, 1] - joints[:, 9, 1])  # [N]
    dist = np.hypot(pred_x - joints[..., 0], pred_y - joints[..., 1])
    vis = (joints[..., 2] > 0) & (joints[:, 8:9, 2] > 0) & (joints[:, 9:10, 2] > 0)
    ok = (dist <= alpha * head[:, None]) & vis
    per_joint = ok.sum(0) / np.maximum(vis.sum(0), 1)
    return per_joint, float(ok.sum() / max(vis.sum(), 1))


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from gait_tf.pose.human_pose import JOINT_NAMES, HumanPoseIRNetwork
    from gait_tf.pose.training import PoseTrainer, synthetic_pose_samples
    from gait_tf.synth import WalkerGenerator
    from gait_tf.utils.atomic import atomic_write, write_json

    gen = WalkerGenerator(seed=args.seed)
    views = [int(v) for v in args.views.split(",")]
    conds = args.conditions.split(",")
    t0 = time.time()
    import os

    def load(kind, spec, seed):
        path = args.data_cache and f"{args.data_cache}.{kind}.npz"
        key = repr((spec, conds, views, args.frames_per_seq, seed, args.seed))
        if path and os.path.exists(path):
            z = np.load(path)
            if "key" in z and str(z["key"]) == key:
                return z["x"], z["j"]
        x, j = synthetic_pose_samples(gen, subjects(spec), conds, views, args.frames_per_seq, seed=seed)
        if path:
            with atomic_write(path) as fh:
                np.savez(fh, x=x, j=j, key=key)
        return x, j

    test_x, test_j = load("test", args.test_subjects, args.seed + 1)
    kw = {"resolution": args.resolution, "aux_channels": args.aux_channels} if args.backbone == "mobilenet_v2" else {}
    net = HumanPoseIRNetwork(backbone=args.backbone, loss_type=args.loss, **kw)
    if args.weights:
        net.restore(args.weights)
    history = []
    train_j, train_s = None, 0.0
    if not args.eval_only:
        train_x, train_j = load("train", args.train_subjects, args.seed)
        print(f"data: {len(train_x)} train / {len(test_x)} test frames ({time.time() - t0:.0f}s)", flush=True)
        import keras

        keras.utils.set_random_seed(args.seed)
        lr = args.lr if args.lr_schedule == "constant" else \
            keras.optimizers.schedules.CosineDecay(args.lr, max(1, args.steps))
        trainer = PoseTrainer(net, learning_rate=lr, optimizer=args.optimizer, pos_weight=args.pos_weight,
                              bn_momentum=args.bn_momentum if args.bn_momentum >= 0 else None)
        t1 = time.time()
        history = trainer.fit(train_x, train_j, args.steps, args.batch_size, seed=args.seed,
                              log_every=max(1, args.steps // 10))
        train_s = time.time() - t1
        print(f"trained {args.steps} steps in {train_s:.0f}s", flush=True)
        if args.weights_out:
            net.save(args.weights_out)
    ys, xs, probs = [], [], []
    for i in range(0, len(test_x), 16):
        y, x, p = net.joint_positions(test_x[i:i + 16])
        ys.append(y), xs.append(x), probs.append(p)
    ys, xs = np.concatenate(ys), np.concatenate(xs)
    per_joint, mean = pckh(ys, xs, test_j)
    result = {"backbone": args.backbone, **kw, "loss": args.loss, "pos_weight": args.pos_weight,
              "bn_momentum": args.bn_momentum, "lr": args.lr,
              "lr_schedule": args.lr_schedule, "steps": args.steps, "batch_size": args.batch_size,
              "train_seconds": train_s,
              "train_subjects": args.train_subjects, "test_subjects": args.test_subjects, "views": views,
              "conditions": conds, "test_frames": int(len(test_x)), "pckh@0.5": mean,
              "per_joint": {n: float(v) for n, v in zip(JOINT_NAMES, per_joint)},
              "final_loss": float(np.mean(history[-20:])) if history else None}
    if train_j is not None:  # mean-pose baseline
        vis = train_j[..., 2:3] > 0
        mean_pose = (train_j[..., :2] * vis).sum(0) / np.maximum(vis.sum(0), 1)
        base_pj, base = pckh(np.broadcast_to(mean_pose[:, 1], ys.shape), np.broadcast_to(mean_pose[:, 0], xs.shape),
                             test_j)
        result["mean_pose_baseline_pckh@0.5"] = base
        result["mean_pose_baseline_per_joint"] = {n: float(v) for n, v in zip(JOINT_NAMES, base_pj)}
    print(f"PCKh@0.5 on held-out subjects: {100 * mean:.1f}%" +
          (f" (mean-pose baseline {100 * result['mean_pose_baseline_pckh@0.5']:.1f}%)" if train_j is not None else ""))
    base_pj = result.get("mean_pose_baseline_per_joint", {})
    for n, v in zip(JOINT_NAMES, per_joint):
        print(f"  {n:15s} {100 * v:5.1f}%" + (f"   (mean pose {100 * base_pj[n]:5.1f}%)" if base_pj else ""))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
