"""Write a front-end result to disk: one folder per person track, ``tracks.json``, figures.

Layout written by :func:`write_people` (``gait-tf silhouettes VIDEO -o DIR --all-tracks``)::

    DIR/tracks.json                     every track: frames, boxes, scores, areas, keypoints
    DIR/tracks/<id>/silhouettes.pkl     pretreated uint8 [T, 64, 64] (OpenGait's layout)
    DIR/tracks/<id>/masks/<frame>.png   the raw person-shaped masks, full frame, 0/255
    DIR/overlay.mp4                     (or the given overlay path) every track drawn
    DIR/contact_sheet.png               one row per track

In ``tracks.json``, ``tracks[<id>].frames`` is the 0-based video frame index of each row
of that track's ``silhouettes.pkl``, in order; ``boxes``, ``person_scores``,
``mask_areas`` and ``keypoints`` (COCO-17 ``(x, y, score)``) are aligned with it.
Everything is written atomically.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gait_tf.errors import VideoError
from gait_tf.utils.atomic import atomic_write, write_json

#: version of the tracks.json layout
TRACKS_FORMAT = 1


def _png(path, img):
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - cv2 encodes any uint8 image
        raise VideoError(f"could not encode {path} as PNG")
    with atomic_write(path) as fh:
        fh.write(buf.tobytes())


def tracks_document(result, extra=None) -> tuple[dict, dict]:
    """``(tracks.json document, {track id: pretreated uint8 [T, 64, 64]})`` of a result."""
    doc = {"format": TRACKS_FORMAT, "source": result.source, "frame_shape": list(result.frame_shape),
           "fps": result.fps, "n_frames": result.n_frames, "corrupt_frames": result.corrupt_frames,
           **(extra or {}), "tracks": {}, "dropped": result.dropped}
    seqs = {}
    for p in result.people:
        seq, frames = p.pretreated()
        rows = np.searchsorted(p.frames, frames)
        coco = p.keypoints_as("coco17")[rows]
        doc["tracks"][str(p.track_id)] = {
            "frames": [int(f) for f in frames],
            "boxes": np.round(p.boxes[rows], 1).tolist(),
            "person_scores": np.round(p.scores[rows], 4).tolist(),
            "mask_areas": [int(a) for a in p.areas[rows]],
            "keypoints": np.round(coco, 2).tolist(),
            "keypoint_layout": "coco17",
            "silhouettes": f"tracks/{p.track_id}/silhouettes.pkl" if len(seq) else None,
            "person_score": round(p.score, 4),
            "tracked_frames": [int(p.frames[0]), int(p.frames[-1])],
            "n_tracked": len(p),
            "n_silhouettes": int(len(seq)),
        }
        seqs[p.track_id] = seq
    return doc, seqs


def write_people(result, out_dir, source, *, overlay="overlay.mp4", sheet="contact_sheet.png", masks=True,
                 max_frames=None, step=1, extra=None, log=print) -> dict:
    """Write the per-track folders, ``tracks.json`` and the figures of ``result``.

    ``overlay`` / ``sheet``: file names inside ``out_dir`` or paths (None to skip).
    Returns the ``tracks.json`` document.
    """
    from gait_tf.data.io import write_pickle
    from gait_tf.video.people_figures import contact_sheet, people_overlay_frames
    from gait_tf.video.writers import write_video

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc, seqs = tracks_document(result, extra)
    for p in result.people:
        folder = out / "tracks" / str(p.track_id)
        folder.mkdir(parents=True, exist_ok=True)
        if len(seqs[p.track_id]):
            write_pickle(folder / "silhouettes.pkl", seqs[p.track_id])
        if masks:
            (folder / "masks").mkdir(exist_ok=True)
            for k in np.flatnonzero(p.shape_ok):
                _png(folder / "masks" / f"{int(p.frames[k]):05d}.png", p.mask(k))
    write_json(out / "tracks.json", doc)
    log(f"wrote {len(result.people)} person track(s) to {out / 'tracks'} and {out / 'tracks.json'}")
    if sheet:
        path = Path(sheet) if Path(sheet).is_absolute() or Path(sheet).parent != Path(".") else out / sheet
        img = contact_sheet(source, result, max_frames=max_frames, step=step)
        _png(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        log(f"wrote contact sheet {path}")
    if overlay:
        path = Path(overlay) if Path(overlay).is_absolute() or Path(overlay).parent != Path(".") else out / overlay
        n = write_video(path, people_overlay_frames(source, result, max_frames=max_frames, step=step),
                        fps=result.fps or 25.0)
        log(f"wrote overlay ({n} frames) {path}")
    return doc
