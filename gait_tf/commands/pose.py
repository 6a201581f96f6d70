"""``gait-tf pose IMAGE... --out DIR [--weights W]``: estimate and draw 2-D poses."""
from __future__ import annotations

from pathlib import Path

from gait_tf.argtypes import positive_int, probability


def register(subparsers):
    p = subparsers.add_parser(
        "pose", help="estimate the 16 body joints of each image and draw the skeleton",
        description="Runs HumanPoseIRNetwork on each image (resized to 299x299 for the network; "
        "coordinates mapped back), writes <out>/<name>_pose.png and prints each joint's probability.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory for the drawn PNGs")
    p.add_argument("--weights", metavar="W", help="TF1 checkpoint prefix (original project's names) or "
                   "*.weights.h5; default: random weights (for a smoke test only)")
    add_network_args(p)
    p.add_argument("--threshold", type=probability, default=0.0,
                   help="draw joints with probability >= this (0..1, default 0)")
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

    from PIL import Image

    from gait_tf.pose.drawing import draw_skeleton
    from gait_tf.pose.human_pose import JOINT_NAMES
    from gait_tf.utils.atomic import atomic_write

    net = pose_network(args)
    if args.weights:
        net.restore(args.weights)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, img in zip(args.images, images):
        ys, xs, probs = net.joint_positions(img[None])
        drawn = draw_skeleton(img, ys[0], xs[0], probs[0], threshold=args.threshold)
        target = out_dir / f"{Path(path).stem}_pose.png"
        with atomic_write(target) as fh:
            Image.fromarray(drawn).save(fh, format="PNG")
        print(f"{path} -> {target}")
        for name, y, x, p in zip(JOINT_NAMES, ys[0], xs[0], probs[0]):
            print(f"  {name:15s} {100 * p:6.2f}%  (x={x:.1f}, y={y:.1f})")
    return 0
