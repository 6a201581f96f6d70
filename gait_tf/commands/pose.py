"""``gait-tf pose IMAGE... --out DIR [--weights W]``: estimate and draw 2-D poses.

Without ``--weights`` the real-pose backend answers (BlazePose: every person in the image,
16 MPII joints each, fetched by ``gait-tf models fetch``); with ``--weights`` the
HumanPoseIRNetwork restored from them (one person, the original behaviour).
"""
from __future__ import annotations

from pathlib import Path

from gait_tf.argtypes import positive_float, positive_int, probability


def register(subparsers):
    p = subparsers.add_parser(
        "pose", help="estimate the 16 body joints of each image and draw the skeleton",
        description="Finds every person in each image and their 16 MPII joints (real-pose backend: BlazePose), "
        "or runs HumanPoseIRNetwork restored from --weights; writes <out>/<name>_pose.png (skeletons, joint names "
        "and probabilities) and <out>/<name>_pose.json, and prints each joint's probability.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory for the drawn PNGs")
    p.add_argument("--weights", metavar="W", help="HumanPoseIRNetwork weights: TF1 checkpoint prefix (original "
                   "project's names) or *.weights.h5; default: the real-pose backend (BlazePose)")
    p.add_argument("--min-height", type=positive_float, default=60.0, metavar="PX",
                   help="real-pose backend: smallest person to look for, in pixels (default 60)")
    p.add_argument("--no-labels", action="store_true", help="draw the skeletons without joint names")
    add_network_args(p)
    p.add_argument("--threshold", type=probability, default=0.5,
                   help="draw joints with probability >= this (0..1, default 0.5)")
    p.set_defaults(func=run)


def add_network_args(p):
    """Options that rebuild the HumanPoseIRNetwork architecture that the weights were trained with."""
    p.add_argument("--backbone", default="inception_resnet_v2", choices=["inception_resnet_v2", "mobilenet_v2"])
    p.add_argument("--resolution", type=positive_int, default=272, choices=(272, 136),
                   help="mobilenet_v2 backbone only: internal input size (272 default; 136 for the fast recipe "
                   "of scripts/pose_pckh.py)")
    p.add_argument("--aux-channels", type=positive_int, default=768,
                   help="mobilenet_v2 backbone only: channels of the auxiliary tower's 5x5 conv (768 default; 256 in the fast recipe)")


def pose_network(args):
    """A :class:`HumanPoseIRNetwork` built from :func:`add_network_args` options."""
    from gait_tf.pose.human_pose import HumanPoseIRNetwork

    if args.backbone == "mobilenet_v2":
        return HumanPoseIRNetwork(backbone=args.backbone, resolution=args.resolution,
                                  aux_channels=args.aux_channels)
    return HumanPoseIRNetwork(backbone=args.backbone)


def _load_image(path):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from gait_tf.errors import DataError

    if not Path(path).is_file():
        raise DataError(f"image {str(path)!r} not found")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read image {str(path)!r}: {exc}") from exc


def run(args):
    from gait_tf.pose.checks import check_image_size

    images = [_load_image(p) for p in args.images]  # fail on a bad file before building the net
    for path, img in zip(args.images, images):
        check_image_size(img.shape[:2], f"image {str(path)!r}")  # a 1x1 image holds no person
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.weights:
        return _run_keras(args, images, out_dir)
    return _run_real(args, images, out_dir)


def _save_png(target, img):
    from PIL import Image

    from gait_tf.utils.atomic import atomic_write

    with atomic_write(target) as fh:
        Image.fromarray(img).save(fh, format="PNG")


def _run_real(args, images, out_dir):
    from gait_tf.errors import DataError
    from gait_tf.pose.blazepose_backend import BlazePoseNetwork
    from gait_tf.pose.drawing import draw_people
    from gait_tf.pose.keypoints import MPII_NAMES
    from gait_tf.utils.atomic import write_json

    net = BlazePoseNetwork(min_height=args.min_height)
    empty = []
    for path, img in zip(args.images, images):
        people = net.estimate_people(img)
        if not people:
            empty.append(path)
            continue
        target = out_dir / f"{Path(path).stem}_pose.png"
        _save_png(target, draw_people(img, people, threshold=args.threshold, labels=not args.no_labels))
        write_json(target.with_suffix(".json"), {"image": str(path), "backend": "blazepose",
                                                 "people": [p.to_dict() for p in people]})
        print(f"{path} -> {target}: {len(people)} person(s)")
        for k, person in enumerate(people, 1):
            print(f"  person {k} (score {person.score:.2f})")
            for name, (x, y, p) in zip(MPII_NAMES, person.mpii):
                print(f"    {name:15s} {100 * p:6.2f}%  (x={x:.1f}, y={y:.1f})")
    if empty:
        raise DataError(f"no person found in {', '.join(map(str, empty))}"
                        + (f" (poses of the other {len(images) - len(empty)} image(s) written)"
                           if len(empty) < len(images) else ""))
    return 0


def _run_keras(args, images, out_dir):
    from gait_tf.pose.drawing import draw_skeleton
    from gait_tf.pose.human_pose import JOINT_NAMES

    net = pose_network(args)
    net.restore(args.weights)
    for path, img in zip(args.images, images):
        ys, xs, probs = net.joint_positions(img[None])
        drawn = draw_skeleton(img, ys[0], xs[0], probs[0], threshold=args.threshold)
        target = out_dir / f"{Path(path).stem}_pose.png"
        _save_png(target, drawn)
        print(f"{path} -> {target}")
        for name, y, x, p in zip(JOINT_NAMES, ys[0], xs[0], probs[0]):
            print(f"  {name:15s} {100 * p:6.2f}%  (x={x:.1f}, y={y:.1f})")
    return 0
