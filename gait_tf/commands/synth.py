"""``gait-tf synth``: generate a synthetic CASIA-B-like data set of procedural walkers.

Formats: ``casia_b`` (binary PNG frames ``<subject>/<type>/<view>/<subject>-<type>-<view>-<frame>.png``),
``opengait`` (pretreated ``uint8 [T, 64, 64]`` pickles ``<subject>/<type>/<view>/<view>.pkl``),
``rgb`` (``<subject>/<type>/<view>/<view>.npz`` with rgb, masks and 2D joints). See docs/synth.md.

``--preset realistic`` renders street / CCTV-like footage (elevated, perspective and
hand-held cameras, any walking direction, other walkers and occlusions, varied bodies,
clothes, gait and carried objects) and stores the silhouettes as our real front end would
deliver them (its error model); ``--realism '{"crowd": [0, 1]}'`` changes single options.
"""
from __future__ import annotations

from gait_tf.argtypes import non_negative_int, positive_int


def register(subparsers):
    p = subparsers.add_parser(
        "synth",
        help="generate synthetic walkers (CASIA-B PNGs, OpenGait pickles, or RGB + joints + masks)",
        description=__doc__,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output root")
    p.add_argument("--format", default="opengait", choices=["casia_b", "opengait", "rgb"],
                   help="output layout (default opengait)")
    p.add_argument("--subjects", default="10", help="count (20 = 1..20) or ranges (1-20, 1,3,5-7); default 10")
    p.add_argument("--conditions", default="all",
                   help="comma list: nm-01..nm-06, bg-01, bg-02, cl-01, cl-02, or nm/bg/cl; default all")
    p.add_argument("--views", default="all", help="comma list of views in degrees (0,18,...,180); default all")
    p.add_argument("--frames", type=positive_int, default=None,
                   help="frames per sequence (default: the time to cross the view, about 40-60)")
    p.add_argument("--image-size", default="240x320", help="HxW of rendered frames (default 240x320)")
    p.add_argument("--background", default="static", choices=["static", "moving", "flicker", "moving+flicker"],
                   help="RGB background (rgb format only; default static)")
    p.add_argument("--preset", default="casia_b", choices=["casia_b", "realistic"],
                   help="realism preset (default casia_b: CASIA-B-like studio data)")
    p.add_argument("--realism", default=None, metavar="JSON",
                   help='realism options over the preset, e.g. \'{"crowd": [0, 1], "frontend_errors": null}\'')
    p.add_argument("--seed", type=non_negative_int, default=0, help="population seed (default 0)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes (output does not depend on it; default 1)")
    p.add_argument("--montage", default=None, metavar="PNG", help="also write a preview montage")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    import time

    from gait_tf.synth.dataset import write_dataset
    from gait_tf.synth.preview import format_summary, make_montage, summarize

    realism = args.preset
    if args.realism:
        import json

        from gait_tf.errors import ConfigError

        try:
            opts = json.loads(args.realism)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--realism: not valid JSON ({exc})") from None
        if not isinstance(opts, dict):
            raise ConfigError(f"--realism: expected a JSON object of options, got {args.realism!r}")
        realism = {"preset": args.preset, **opts}
    start = time.perf_counter()
    meta = write_dataset(args.out, fmt=args.format, subjects=args.subjects, conditions=args.conditions,
                         views=args.views, seed=args.seed, image_size=args.image_size, n_frames=args.frames,
                         workers=args.workers, background=args.background, progress=not args.quiet,
                         realism=realism)
    elapsed = time.perf_counter() - start
    print(format_summary(summarize(args.out)))
    print(f"{meta['frames']} frames in {elapsed:.1f} s ({meta['frames'] / max(elapsed, 1e-9):.0f} frames/s)")
    if meta["skipped"]:
        print(f"skipped {len(meta['skipped'])} sequence(s) the front end lost entirely: "
              + ", ".join(meta["skipped"][:5]) + (" ..." if len(meta["skipped"]) > 5 else ""))
    if args.montage:
        make_montage(args.out, args.montage)
        print(f"montage: {args.montage}")
    return 0
