"""``gait-tf identify``: rank the enrolled identities of a gallery for probe embeddings or a
silhouette sequence; answers "unknown" above the gallery's calibrated open-set threshold.

Examples::

    gait-tf identify --gallery people.gallery --embeddings probes.npz --top-k 5
    gait-tf identify --gallery people.gallery --model gaitset.keras --sequence walk.gif

``probes.npz`` holds ``embeddings`` [N, P, D] (or one [P, D]); optional string arrays
``subjects`` (shown as the probe names) and a ``model`` entry (checked against the
gallery's model).
"""
from __future__ import annotations

import json
from pathlib import Path

from gait_tf.argtypes import non_negative_float, positive_int


def register(subparsers):
    p = subparsers.add_parser(
        "identify",
        help="identify probe embeddings or a silhouette sequence against a gallery (open set)",
        description=__doc__,
    )
    p.add_argument("--gallery", required=True, metavar="G.gallery", help="gallery file (gait-tf gallery create)")
    add_probe_arguments(p)
    p.add_argument("--top-k", type=positive_int, default=5, help="candidates to print (default 5)")
    p.add_argument("--threshold", type=non_negative_float, default=None,
                   help="open-set distance threshold (default: the gallery's calibrated one)")
    p.add_argument("--closed-set", action="store_true", help="never answer 'unknown'")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def add_probe_arguments(p, required=True):
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--embeddings", metavar="FILE.npz", help="embeddings file (array 'embeddings')")
    src.add_argument("--sequence", metavar="PATH", nargs="+",
                     help="silhouette sequence(s): folder of frames, .gif, or pretreated .pkl (needs --model)")
    p.add_argument("--model", metavar="M.keras",
                   help="model used to embed --sequence (default: the shipped default model)")


def load_probes(args, embedding_shape=None):
    """→ (embeddings float32 [N, ...], names [N], model name or None) from --embeddings or
    --model + --sequence. The model name is the embeddings file's ``model`` entry, or the
    identity of the ``--model`` (:func:`gait_tf.evaluation.embed.model_identity`): it is
    checked against the gallery's."""
    import numpy as np

    from gait_tf.errors import ConfigError
    from gait_tf.evaluation.embed import (load_embeddings, load_model, model_embed_fn, model_identity,
                                          read_probe_sequence)

    if args.embeddings:
        if args.model:
            raise ConfigError("--model is for --sequence; --embeddings are already embedded")
        data = load_embeddings(args.embeddings, require=("embeddings",))
        emb = data["embeddings"]
        if embedding_shape is not None and emb.shape == tuple(embedding_shape):
            emb = emb[None]  # a single embedding
        names = data.get("subjects")
        names = names.astype(str) if names is not None and names.shape == (len(emb),) else \
            np.array([f"{Path(args.embeddings).name}[{i}]" for i in range(len(emb))])
        model_name = str(data["model"]) if "model" in data else None
        return emb, names, model_name
    model = load_model(args.model or "default")
    fn = model_embed_fn(model)
    emb = np.stack([fn(read_probe_sequence(path)) for path in args.sequence])
    return emb, np.array([str(p) for p in args.sequence]), model_identity(model)


def run(args):
    from gait_tf.errors import ConfigError
    from gait_tf.gallery import Gallery

    if args.closed_set and args.threshold is not None:
        raise ConfigError("--closed-set and --threshold exclude each other")
    gallery = Gallery.load(args.gallery)
    emb, names, model_name = load_probes(args, gallery.embedding_shape)
    threshold = None if args.closed_set else (args.threshold if args.threshold is not None else ...)
    results = gallery.identify_batch(emb, top_k=args.top_k, threshold=threshold, model_name=model_name)
    if args.json:
        print(json.dumps([{"probe": str(n), **r.to_dict()} for n, r in zip(names, results)], indent=2))
        return 0
    thr = results[0].threshold if results else None
    print(f"gallery {args.gallery}: model {gallery.model_name!r}, {gallery.num_subjects} subjects, "
          f"threshold {'none (closed set)' if thr is None else f'{thr:.4f}'}")
    for name, r in zip(names, results):
        ranked = ", ".join(f"{m.subject_id} ({m.distance:.4f})" for m in r)
        print(f"{name}: {r.identity}    [{ranked}]")
    return 0
