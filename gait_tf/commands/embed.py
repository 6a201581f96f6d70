"""``gait-tf embed INPUT... --out E.npz [--model M]``: silhouette sequences or videos -> embeddings.

Each silhouette sequence (a folder of frames, a GIF of silhouettes, or a pretreated
``.pkl``) gives one embedding; each video (``.mp4``, ``.avi``, ... or any input with
``--video``) gives one embedding per person track of the real front end (at least
MIN_FRAMES usable silhouettes). The ``.npz`` holds ``embeddings [N, parts, dim]``,
``subjects [N]`` (``--subject``, else the sequence's name or ``<video>:<track>``),
``names [N]`` and ``model`` (the model's identity), as ``gait-tf gallery create`` /
``enroll`` / ``calibrate`` and ``gait-tf identify --embeddings`` read them. Without
``--model`` the shipped default model embeds.
"""
from __future__ import annotations

from pathlib import Path

from gait_tf.argtypes import positive_float


def register(subparsers):
    p = subparsers.add_parser("embed", help="silhouette sequences / every walker of videos -> embeddings .npz",
                              description=__doc__.split("\n\n")[1].replace("``", ""))
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="sequence folders, silhouette GIFs, .pkl, or videos")
    p.add_argument("--out", required=True, metavar="E.npz", help="embeddings file to write")
    p.add_argument("--model", default="default", metavar="M.keras",
                   help="silhouette model (default: the shipped default model)")
    p.add_argument("--subject", default=None, help="identity of every embedding (default: from the input's name)")
    p.add_argument("--video", action="store_true", help="treat every input as a video (e.g. an RGB .gif)")
    p.add_argument("--min-height", type=positive_float, default=80.0, metavar="PX",
                   help="videos: smallest person to detect, in pixels (default 80)")
    p.set_defaults(func=run)


def _is_video(path, forced):
    from gait_tf.video.readers import VIDEO_EXTENSIONS

    return forced or Path(path).suffix.lower() in VIDEO_EXTENSIONS


def run(args):
    import numpy as np

    from gait_tf.errors import DataError
    from gait_tf.evaluation.embed import load_model, model_embed_fn, model_identity, read_probe_sequence
    from gait_tf.video.frontend import track_people
    from gait_tf.video.pipeline import MIN_FRAMES

    for path in args.inputs:  # fail on a missing input before loading anything
        if not Path(path).exists():
            raise DataError(f"{path}: no such sequence or video")
    model = load_model(args.model)
    embed = model_embed_fn(model)
    embs, subjects, names = [], [], []
    for path in args.inputs:
        if _is_video(path, args.video):
            res = track_people(path, min_height=args.min_height)
            for person in res.people:
                seq, frames = person.pretreated()
                label = f"{Path(path).stem}:{person.track_id}"
                if len(seq) < MIN_FRAMES:
                    print(f"{label}: skipped, only {len(seq)} usable silhouettes (MIN_FRAMES = {MIN_FRAMES})")
                    continue
                embs.append(embed(seq))
                names.append(label)
                subjects.append(args.subject or label)
                print(f"{label}: frames {int(frames[0])}-{int(frames[-1])}, {len(seq)} silhouettes")
        else:
            seq = read_probe_sequence(path)
            embs.append(embed(seq))
            names.append(str(path))
            subjects.append(args.subject or Path(path).stem)
            print(f"{path}: {len(seq)} silhouettes")
    if not embs:
        raise DataError("nothing to embed: no input gave a sequence of at least "
                        f"{MIN_FRAMES} usable silhouettes")
    from gait_tf.utils.atomic import atomic_write

    with atomic_write(args.out, "wb") as fh:
        np.savez(fh, embeddings=np.stack(embs), subjects=np.array(subjects), names=np.array(names),
                 model=np.asarray(model_identity(model)))
    out = args.out
    print(f"wrote {len(embs)} embedding(s) {np.stack(embs).shape[1:]} of model {model_identity(model)} to {out}")
    return 0
