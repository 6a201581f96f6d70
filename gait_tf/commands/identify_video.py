"""``gait-tf identify-video VIDEO --gallery G --model M``: who is walking in this video?

Detects, segments and tracks every walker (``--method blazepose``, the default; one track
with ``--track ID``), pretreats each track's silhouettes, embeds them with the silhouette
model ``M`` (a ``.keras`` file) and ranks the subjects of gallery ``G`` (made by
``Gallery.save``). Prints, per track, the ranked identities with their distances and the
answer - a subject id, or ``unknown`` when the best distance is above the gallery's
open-set threshold. ``--method bgsub|unet`` follow one walker (the largest). A progress
bar is shown on stderr for videos of 100 frames or more.
"""
from __future__ import annotations

import json

from gait_tf.commands.silhouettes import add_gallery_arguments, add_video_arguments, parse_track


def register(subparsers):
    p = subparsers.add_parser("identify-video", help="video -> silhouettes -> embedding -> gallery identity",
                              description=__doc__.split("\n\n")[1].replace("``", ""))
    add_video_arguments(p)
    add_gallery_arguments(p, top_k_help="ranked identities to print (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.epilog = ("--track: with --method blazepose, a track id restricts the answer to that person "
                "(default: every walker); with bgsub/unet, the person followed")
    p.set_defaults(func=main)


def main(args):
    from gait_tf.errors import ConfigError
    from gait_tf.evaluation.embed import load_model
    from gait_tf.gallery import Gallery
    from gait_tf.video.pipeline import check_gallery_model, identify_video, model_name_of

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    if args.step < 1:
        raise ConfigError(f"--step must be >= 1, got {args.step}")
    if args.closed_set and args.threshold is not None:
        raise ConfigError("--closed-set and --threshold exclude each other")
    gallery = Gallery.load(args.gallery)
    model = load_model(args.model)
    name = args.model_name or model_name_of(model)
    # refuse a gallery of another model before spending time on the video
    check_gallery_model(gallery, name, f"gallery {args.gallery}")
    threshold = None if args.closed_set else (args.threshold if args.threshold is not None else ...)
    if args.method == "blazepose":
        return _every_walker(args, gallery, model, name, threshold)
    kwargs = {"bg_method": args.bg_method, "background": args.background} if args.method == "bgsub" else {}
    res = identify_video(args.video, gallery, model, model_name=name, method=args.method,
                         segmenter=args.segmenter, track=parse_track(args.track), top_k=args.top_k,
                         threshold=threshold, gallery_source=f"gallery {args.gallery}",
                         max_frames=args.max_frames, step=args.step,
                         progress=False if args.no_progress else "auto", **kwargs)
    ident = res.identification
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
        return 0
    t = res.track
    print(f"{t.source}: track {t.track_id} of {len(t.tracks)}, {len(t)} silhouettes, "
          f"{res.n_pretreated} used (method {t.method})")
    _print_gallery(args, gallery, ident.threshold)
    _print_matches(ident)
    print(f"identity: {ident.identity}")
    return 0


def _print_gallery(args, gallery, thr):
    print(f"gallery {args.gallery}: model {gallery.model_name}, {gallery.num_subjects} subjects, "
          f"threshold {'none (closed set)' if thr is None else f'{thr:.4g}'}")


def _print_matches(ident, indent=""):
    print(f"{indent}{'rank':>4}  {'subject':<16} distance")
    for r, m in enumerate(ident.matches, 1):
        print(f"{indent}{r:>4}  {m.subject_id:<16} {m.distance:.4f}")


def _every_walker(args, gallery, model, name, threshold):
    from gait_tf.commands.silhouettes import print_people, run_people
    from gait_tf.video.pipeline import identify_people

    track = parse_track(args.track)
    people = run_people(args)
    res, answers = identify_people(args.video, gallery, model, model_name=name, people=people,
                                   track=None if track == "largest" else track, top_k=args.top_k,
                                   threshold=threshold, gallery_source=f"gallery {args.gallery}")
    if args.json:
        print(json.dumps({"source": res.source, "n_frames": res.n_frames, "model": name,
                          "tracks": [a.to_dict() for a in answers]}, indent=2))
        return 0
    print_people(res)
    thr = next((a.identification.threshold for a in answers if a.identification is not None), None)
    _print_gallery(args, gallery, thr)
    for a in answers:
        p = a.track
        head = f"track {p.track_id} (frames {int(p.frames[0])}-{int(p.frames[-1])}, {a.n_pretreated} silhouettes)"
        if a.identification is None:
            print(f"{head}: not identified - {a.reason}")
            continue
        print(f"{head}: identity {a.identity}")
        _print_matches(a.identification, indent="  ")
    return 0
