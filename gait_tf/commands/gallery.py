"""``gait-tf gallery``: create, enroll into, calibrate and inspect gallery files.

Examples::

    gait-tf gallery create people.gallery --model-name gaitset --embeddings enroll.npz
    gait-tf gallery create empty.gallery --model-name gaitset --shape 62,256 --allow-empty
    gait-tf gallery enroll people.gallery --subject alice --model gaitset.keras --sequence walk.gif
    gait-tf gallery calibrate people.gallery --embeddings heldout.npz --far 0.01
    gait-tf gallery info people.gallery

Embeddings files hold ``embeddings`` [N, P, D] and string ``subjects`` [N] (the identities
to enroll, or the held-out identities for calibration). Every write is atomic.
"""
from __future__ import annotations

import json
import sys

from gait_tf.argtypes import positive_float, positive_int, rate_below_one


def register(subparsers):
    from gait_tf.commands.identify import add_probe_arguments

    p = subparsers.add_parser("gallery", help="create / enroll / calibrate / inspect identification galleries",
                              description=__doc__)
    sub = p.add_subparsers(dest="gallery_command", metavar="ACTION", required=True)

    c = sub.add_parser("create", help="new gallery file from an embeddings .npz (subjects = identities)")
    c.add_argument("gallery", metavar="G.gallery")
    c.add_argument("--model-name", default=None,
                   help="model that made the embeddings (e.g. gaitset; default: the 'model' entry of --embeddings)")
    c.add_argument("--embeddings", metavar="FILE.npz", default=None,
                   help="embeddings + subjects to enroll (an empty gallery needs --shape and --allow-empty)")
    c.add_argument("--shape", default=None, help="embedding shape for an empty gallery, e.g. 62,256")
    c.add_argument("--allow-empty", action="store_true",
                   help="create the gallery even though it enrolls nobody (refused otherwise)")
    c.add_argument("--metric", default="euc", choices=["euc", "cos"])
    c.add_argument("--float16", action="store_true", help="store embeddings as float16")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    c.set_defaults(func=_create)

    e = sub.add_parser("enroll", help="add embeddings (.npz with subjects) or a sequence (--subject) to a gallery")
    e.add_argument("gallery", metavar="G.gallery")
    add_probe_arguments(e)
    e.add_argument("--subject", default=None, help="identity of --sequence (required with --sequence)")
    e.set_defaults(func=_enroll)

    v = sub.add_parser("enroll-video", help="enroll one person track of a video (see `gait-tf silhouettes "
                       "--all-tracks` for the track ids)")
    v.add_argument("video", metavar="VIDEO", help="video file, GIF, image folder or .npy clip")
    v.add_argument("--gallery", required=True, metavar="G.gallery",
                   help="gallery to enroll into (created for the model if it does not exist)")
    v.add_argument("--model", default="default", metavar="M.keras",
                   help="silhouette model that made the gallery (default: the shipped default model)")
    v.add_argument("--subject", required=True, help="identity of the person")
    v.add_argument("--track", required=True, type=positive_int, metavar="ID", help="person track id in the video")
    v.add_argument("--detector", choices=("hog+blazepose", "hog", "blazepose"), default="hog+blazepose")
    v.add_argument("--min-height", type=positive_float, default=80.0, metavar="PX",
                   help="smallest person to detect, in pixels (default 80)")
    v.add_argument("--max-frames", type=positive_int, metavar="N", help="read at most N frames")
    v.add_argument("--step", type=positive_int, default=1, metavar="K", help="use every K-th frame (default 1)")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(func=_enroll_video, method="blazepose")

    k = sub.add_parser("calibrate", help="set the open-set threshold for a false-accept rate on held-out embeddings")
    k.add_argument("gallery", metavar="G.gallery")
    k.add_argument("--embeddings", metavar="FILE.npz", required=True, help="held-out embeddings + subjects")
    k.add_argument("--far", type=rate_below_one, default=0.01, help="target false-accept rate in [0, 1) (default 0.01)")
    k.add_argument("--mode", default="pairs", choices=["pairs", "identification"],
                   help="FAR over impostor pairs (default) or over impostor identification attempts")
    k.set_defaults(func=_calibrate)

    i = sub.add_parser("info", help="print a gallery's metadata as JSON")
    i.add_argument("gallery", metavar="G.gallery")
    i.set_defaults(func=_info)


def _subjects(data, path):
    from gait_tf.errors import DataError

    if "subjects" not in data:
        raise DataError(f"{path}: missing array 'subjects' (the identities of the embeddings)")
    return data["subjects"].astype(str)


def _create(args):
    from pathlib import Path

    from gait_tf.errors import ConfigError
    from gait_tf.evaluation.embed import load_embeddings
    from gait_tf.gallery import Gallery

    if Path(args.gallery).exists() and not args.force:
        raise ConfigError(f"{args.gallery} exists; use --force to overwrite or 'gallery enroll' to add to it")
    data = load_embeddings(args.embeddings, require=("embeddings",)) if args.embeddings else None
    if data is not None:
        shape = data["embeddings"].shape[1:]
    elif args.shape:
        try:
            shape = tuple(int(s) for s in args.shape.split(","))
        except ValueError:
            raise ConfigError(f"--shape {args.shape!r}: expected comma-separated ints, e.g. 62,256") from None
    else:
        raise ConfigError("give --embeddings FILE.npz or --shape P,D")
    if data is not None and len(data["embeddings"]) == 0 and not args.allow_empty:
        raise ConfigError(f"--embeddings {args.embeddings}: holds 0 embeddings, so the gallery would enroll "
                          "nobody; pass --allow-empty to create an empty gallery anyway")
    if data is None and not args.allow_empty:
        raise ConfigError("--shape without --embeddings creates an empty gallery (nobody enrolled); pass "
                          "--allow-empty to create it anyway")
    model = str(data["model"]) if data is not None and "model" in data else None
    model_name = args.model_name or model
    if not model_name:
        raise ConfigError("--model-name is required: " + ("the embeddings file names no model" if data is not None
                                                         else "name the model that will make the embeddings"))
    gallery = Gallery(model_name, shape, metric=args.metric, storage_dtype="float16" if args.float16 else "float32")
    _shipped_threshold(gallery)
    if data is not None and len(data["embeddings"]):
        gallery.enroll_many(data["embeddings"], _subjects(data, args.embeddings), model_name=model)
    gallery.save(args.gallery)
    print(gallery)
    if len(gallery) == 0:
        print(f"note: {args.gallery} is empty: enroll subjects with 'gait-tf gallery enroll'", file=sys.stderr)


def _enroll(args):
    from gait_tf.commands.identify import load_probes
    from gait_tf.errors import ConfigError
    from gait_tf.evaluation.embed import load_embeddings
    from gait_tf.gallery import Gallery

    gallery = Gallery.load(args.gallery)
    emb, names, model = load_probes(args, gallery.embedding_shape)
    if args.sequence:
        if not args.subject:
            raise ConfigError("--subject is required with --sequence")
        ids = [args.subject] * len(emb)
    elif args.subject:
        ids = [args.subject] * len(emb)
    else:
        ids = _subjects(load_embeddings(args.embeddings, require=("embeddings",)), args.embeddings)
    n = gallery.enroll_many(emb, ids, model_name=model)
    gallery.save(args.gallery)
    print(f"enrolled {n} embedding(s); {gallery}")


def _shipped_threshold(gallery):
    """A gallery of the shipped default model starts with its calibrated open-set threshold."""
    from gait_tf import pretrained

    thr = pretrained.threshold_for(gallery.model_name)
    if thr is not None and gallery.threshold is None:
        gallery.threshold = thr
        print(f"open-set threshold {thr:.4g}: the shipped default model's (calibrated on realistic impostor pairs; "
              "'gait-tf gallery calibrate' sets your own)", file=sys.stderr)


def new_gallery(model, name):
    """An empty gallery for ``model``'s embeddings (shape from a dummy sequence)."""
    import numpy as np

    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.gallery import Gallery

    shape = model_embed_fn(model)(np.zeros((2, 64, 64), np.uint8)).shape
    gallery = Gallery(name, shape)
    _shipped_threshold(gallery)
    return gallery


def _enroll_video(args):
    from gait_tf.commands.silhouettes import run_people
    from gait_tf.errors import VideoError
    from gait_tf.evaluation.embed import load_model, model_embed_fn
    from gait_tf.gallery import Gallery
    from gait_tf.video.pipeline import MIN_FRAMES, check_gallery_model, model_name_of

    from pathlib import Path

    from gait_tf.evaluation.embed import model_identity

    model = load_model(args.model)
    name = model_name_of(model)
    if Path(args.gallery).exists():
        gallery = Gallery.load(args.gallery)
        check_gallery_model(gallery, name, f"gallery {args.gallery}")
    else:
        gallery = new_gallery(model, model_identity(model))
    person = run_people(args).by_id(args.track)
    seq, frames = person.pretreated()
    if len(seq) < MIN_FRAMES:
        raise VideoError(f"{args.video}: track {args.track} has only {len(seq)} usable silhouettes; at least "
                         f"{MIN_FRAMES} are needed to enroll a walk (MIN_FRAMES)")
    gallery.enroll(args.subject, model_embed_fn(model)(seq), model_name=name)
    gallery.save(args.gallery)
    print(f"enrolled {args.subject!r} from track {args.track} of {args.video} ({len(seq)} silhouettes, "
          f"frames {int(frames[0])}-{int(frames[-1])}); {gallery}")


def _calibrate(args):
    from gait_tf.evaluation.embed import load_embeddings
    from gait_tf.gallery import Gallery

    gallery = Gallery.load(args.gallery)
    data = load_embeddings(args.embeddings, require=("embeddings", "subjects"))
    model = str(data["model"]) if "model" in data else None
    gallery._check_model(model)
    cal = gallery.calibrate(data["embeddings"], data["subjects"], far=args.far, mode=args.mode)
    gallery.save(args.gallery)
    print(json.dumps(cal, indent=2))


def _info(args):
    from gait_tf.gallery import Gallery

    meta = Gallery.read_metadata(args.gallery)
    print(json.dumps(meta, indent=2))
