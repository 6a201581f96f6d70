"""``gait-tf embed-video VIDEO [--out vec.npy]``: the 512-d gait identification vector of a video."""
from __future__ import annotations

from gait_tf.argtypes import positive_int
from gait_tf.commands.pose import add_network_args, pose_network


def register(subparsers):
    p = subparsers.add_parser(
        "embed-video", help="HumanPoseNN + GaitNN identification vector of a walking-person video",
        description="Reads the frames (gait_tf.video readers), resizes each to 299x299 (the person "
        "should be centred and seen from the side), extracts pose features with HumanPoseIRNetwork "
        "and runs GaitNetwork. Prints the vector or saves it as .npy.")
    p.add_argument("video", metavar="VIDEO", help="video file, GIF, image folder or .npy clip")
    p.add_argument("--out", metavar="PATH", help="save the vector (float32 [512]) to this .npy file")
    p.add_argument("--pose-weights", metavar="W", help="HumanPoseIRNetwork checkpoint (TF1 prefix or .weights.h5)")
    p.add_argument("--gait-weights", metavar="W", help="GaitNetwork checkpoint (TF1 prefix or .weights.h5)")
    p.add_argument("--recurrent-unit", default="GRU", choices=["GRU", "LSTM"])
    p.add_argument("--rnn-layers", type=positive_int, default=1)
    add_network_args(p)
    p.add_argument("--max-frames", type=positive_int, default=None, help="use at most this many frames")
    p.add_argument("--batch-size", type=positive_int, default=16, help="frames per pose-network batch")
    p.set_defaults(func=run)


def run(args):
    import numpy as np

    from gait_tf.errors import VideoError
    from gait_tf.pose.gait_network import GaitNetwork
    from gait_tf.utils.atomic import atomic_write
    from gait_tf.video.readers import iter_frames

    pose = pose_network(args)
    if args.pose_weights:
        pose.restore(args.pose_weights)
    gait = GaitNetwork(recurrent_unit=args.recurrent_unit, rnn_layers=args.rnn_layers)
    if args.gait_weights:
        gait.restore(args.gait_weights)
    feats, batch = [], []
    for frame in iter_frames(args.video, max_frames=args.max_frames):
        batch.append(frame)
        if len(batch) == args.batch_size:
            feats.append(pose.feed_forward_features(np.stack(batch)))
            batch = []
    if batch:
        feats.append(pose.feed_forward_features(np.stack(batch)))
    if not feats:
        raise VideoError(f"video {args.video!r} has no frames")
    vector, _ = gait.feed_forward(np.concatenate(feats))
    if args.out:
        with atomic_write(args.out) as fh:
            np.save(fh, vector.astype(np.float32))
        print(f"{args.video}: {sum(len(f) for f in feats)} frames -> {args.out} (512-d)")
    else:
        np.set_printoptions(precision=5, suppress=True, linewidth=120, threshold=10000)
        print(vector)
    return 0
