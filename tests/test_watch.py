"""``gait-tf watch``: live sources, reconnection, rolling identification, bounded memory, Ctrl-C.

The stream plumbing (source parsing, backoff, the live buffer) is tested with fake
captures; the rest runs the real front end (BlazePose, fetched by ``gait-tf models
fetch``) on the first 30 frames of ``four_walkers.mp4``, played from a file, from a local
MJPEG-over-HTTP camera (tests/stream_helpers.py, 127.0.0.1 only) that drops and comes
back, and from an endless one stopped with SIGINT. The model is a tiny random GaitSet.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gait_tf.cli import main as cli
from gait_tf.errors import ConfigError, VideoError
from gait_tf.video.stream import (Frame, FrameStream, StreamEvent, StreamLost, backoff_delay, mask_url,
                                  parse_source)
from stream_helpers import MJPEGServer, closed_port

CLIP_FRAMES = 30


# --- stream plumbing (no models) -------------------------------------------------------------
def test_parse_source(tmp_path):
    assert (parse_source("0").kind, parse_source("0").target) == ("camera", 0)
    assert parse_source(2).target == 2 and parse_source(2).name == "camera 2"
    s = parse_source("rtsp://admin:secret@10.0.0.5:554/live")
    assert s.kind == "network" and s.target.endswith("/live") and "secret" not in s.name and "admin:***@" in s.name
    assert parse_source("http://127.0.0.1:8080/stream.mjpg").live
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    assert parse_source(str(clip)).kind == "file" and not parse_source(str(clip)).live
    assert parse_source(f"file://{clip}").target == clip
    with pytest.raises(ConfigError, match="unsupported stream URL scheme 'ftp'"):
        parse_source("ftp://user:pw@host/x")
    with pytest.raises(ConfigError, match="camera index must be >= 0"):
        parse_source("-1")
    with pytest.raises(VideoError, match="no such video file"):
        parse_source(str(tmp_path / "missing.mp4"))
    assert mask_url("http://host/x") == "http://host/x"


class FakeCapture:
    """A capture that yields ``n`` frames (their first pixel holds a serial) then fails."""

    serial = 0

    def __init__(self, n):
        self.n = n

    def read(self):
        if self.n <= 0:
            return False, None
        self.n -= 1
        FakeCapture.serial += 1
        return True, np.full((8, 6, 3), FakeCapture.serial % 256, np.uint8)

    def get(self, prop):
        return 25.0

    def release(self):
        pass


def scripted_opener(script):
    """``script``: per open attempt, None (cannot open) or a frame count; then None forever."""
    it = iter(script)
    return lambda spec: (lambda n: None if n is None else FakeCapture(n))(next(it, None))


def drain(stream):
    items = []
    try:
        for item in stream.items():
            items.append(item)
    except StreamLost as exc:
        items.append(exc)
    return items


def test_reconnect_with_exponential_backoff():
    # 2 failed opens, 3 frames, drop; 1 open with 2 frames, drop; then the camera is gone
    stream = FrameStream("rtsp://cam/1", max_retries=3, backoff=0.01, max_backoff=0.03, buffer=100,
                         opener=scripted_opener([None, None, 3, 2]))
    items = drain(stream)
    kinds = [("frame", i.index) if isinstance(i, Frame) else (i.kind, i.info.get("attempt", i.info.get("attempts")))
             if isinstance(i, StreamEvent) else "lost" for i in items]
    assert kinds == [("retry", 1), ("retry", 2), ("reconnected", 2), ("frame", 0), ("frame", 1), ("frame", 2),
                     ("retry", 1), ("reconnected", 1), ("frame", 3), ("frame", 4),
                     ("retry", 1), ("retry", 2), ("retry", 3), "lost"]
    delays = [i.info["delay_s"] for i in items if isinstance(i, StreamEvent) and i.kind == "retry"]
    assert delays == [0.01, 0.02, 0.01, 0.01, 0.02, 0.03]  # doubles, capped at max_backoff, reset by a frame
    assert "stream lost at frame 5" in str(items[-1]) and "after 3 reconnection attempt(s)" in str(items[-1])
    assert stream.stats["reconnects"] == 2 and stream.stats["read"] == 5 and stream.stats["dropped"] == 0
    assert [backoff_delay(k, 1.0, 30.0) for k in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_stream_that_never_opens_is_a_clear_error():
    with pytest.raises(VideoError, match=r"rtsp://cam/1: cannot open .*after 2 reconnection attempt\(s\)") as err:
        drain(FrameStream("rtsp://cam/1", max_retries=2, backoff=0.01, opener=scripted_opener([])))
    assert not isinstance(err.value, StreamLost)
    with pytest.raises(VideoError, match=r"camera 3: cannot open the camera .*reconnection off"):
        drain(FrameStream(3, max_retries=0, opener=scripted_opener([])))
    with pytest.raises(ConfigError, match="max_backoff"):
        FrameStream("rtsp://cam/1", backoff=2.0, max_backoff=1.0)


def test_live_buffer_keeps_the_newest_frames():
    """A consumer that falls behind a live source gets the newest frames; the rest are
    dropped and counted, and no more than ``buffer`` frames are ever held."""
    stream = FrameStream("http://cam/x", max_retries=0, buffer=4, opener=scripted_opener([50])).start()
    deadline = time.monotonic() + 10
    while stream.stats["read"] < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.queued == 4
    with pytest.raises(VideoError):  # the fake camera then goes away (retries off)
        frames = []
        for item in stream.items():
            frames.append(item.index)
    assert frames == [46, 47, 48, 49]
    assert stream.stats["dropped"] == 46


def test_file_every_frame_or_in_real_time(tmp_path):
    """A file is read frame by frame, none dropped, however slow the consumer; with
    ``realtime`` it is delivered at its frame rate (25 fps without one) and a slow
    consumer gets the newest frames. A file that ends is the end: no reconnection."""
    clip = np.zeros((20, 8, 6, 3), np.uint8)
    clip[:, 0, 0, 0] = np.arange(20)
    np.save(tmp_path / "clip.npy", clip)
    got = []
    stream = FrameStream(tmp_path / "clip.npy", buffer=2)
    for item in stream.items():
        got.append((item.index, int(item.image[0, 0, 0])))
        time.sleep(0.01)
    assert got == [(i, i) for i in range(20)] and stream.stats["dropped"] == 0 and stream.stats["retries"] == 0
    stream = FrameStream(tmp_path / "clip.npy", buffer=2, realtime=True)
    t0 = time.monotonic()
    got = []
    for item in stream.items():
        got.append(item.index)
        time.sleep(0.15)
    assert time.monotonic() - t0 >= 19 / 25  # frame 19 is not delivered before 0.76 s
    assert got == sorted(got) and got[-1] == 19 and stream.stats["dropped"] > 0
    assert len(got) + stream.stats["dropped"] == stream.stats["read"] == 20


# --- the real front end -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(real_video_dir, tmp_path_factory):
    """The first 30 frames of four_walkers.mp4 as an MJPG .avi, and the frames themselves."""
    from gait_tf.video.readers import read_video
    from gait_tf.video.writers import write_video

    frames = read_video(real_video_dir / "four_walkers.mp4", max_frames=CLIP_FRAMES)
    path = tmp_path_factory.mktemp("watch") / "walkers.avi"
    write_video(path, list(frames), fps=30)
    return path, read_video(path)


@pytest.fixture(scope="module")
def setup(clip, tmp_path_factory):
    """A tiny random GaitSet, a gallery with walkers 1 and 2 enrolled from the whole clip
    (offline front end), and the offline result."""
    from gait_tf import models
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.gallery import Gallery
    from gait_tf.video.frontend import track_people

    d = tmp_path_factory.mktemp("watch_model")
    model = models.create("gaitset", in_channels=(1, 4, 8, 8), out_channels=8, bin_num=(2, 1))
    model.save(d / "tiny.keras")
    res = track_people(clip[0])
    embed = model_embed_fn(model)
    gallery = Gallery("gaitset", (6, 8))
    for tid, name in ((1, "white_shirt"), (2, "yellow_shirt")):
        gallery.enroll(name, embed(res.by_id(tid).pretreated()[0]))
    gallery.save(d / "people.gallery")
    return {"model": str(d / "tiny.keras"), "gallery": str(d / "people.gallery"), "offline": res, "embed": embed,
            "gallery_obj": gallery, "dir": d}


def watch(setup, source, *extra):
    return cli(["watch", str(source), "--gallery", setup["gallery"], "--model", setup["model"], *extra])


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_file_played_as_a_stream(setup, clip, capsys):
    """Rolling answers at 10, 20, 30 silhouettes; the last one (all 30 frames, as the
    enrolment) finds the enrolled walker at distance ~0; the end of the file is a clean stop."""
    assert watch(setup, clip[0], "--json", "--window", "100", "--update-every", "10", "--threshold", "0.001") == 0
    events = json_lines(capsys.readouterr().out)
    assert events[0]["event"] == "start" and events[0]["kind"] == "file" and events[0]["subjects"] == 2
    answers = {}
    for e in events:
        if e["event"] == "identity":
            answers.setdefault(e["track_id"], []).append(e)
    assert {1, 2, 3} <= set(answers)
    for tid, name in ((1, "white_shirt"), (2, "yellow_shirt")):
        a = answers[tid]
        assert [x["n_silhouettes"] for x in a] == [10, 20, 30]
        assert a[0]["latency_frames"] == 9 and a[0]["latency_s"] > 0 and "latency_frames" not in a[1]
        assert a[-1]["identity"] == name and a[-1]["distance"] < 1e-4 and a[-1]["window_frames"] == [0, 29]
        assert a[-1]["matches"][0]["subject_id"] == name
    assert all(x["identity"] == "unknown" for x in answers[3])  # not enrolled
    ended = {e["track_id"]: e for e in events if e["event"] == "ended"}
    assert ended[1]["identity"] == "white_shirt" and ended[3]["identity"] == "unknown"
    summary = events[-1]
    assert summary["event"] == "summary" and summary["stopped"] == "end of stream"
    assert summary["frames"] == summary["read"] == CLIP_FRAMES and summary["dropped"] == 0
    assert summary["identities"]["white_shirt"] == 1 and summary["people"] == len(ended)
    # text output: one line per answer, a summary line
    assert watch(setup, clip[0], "--max-frames", "12", "--closed-set") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("watching ") and "2 subjects, threshold none (closed set)" in out[0]
    first = [line for line in out if line.startswith("frame     9  track 1: ")]
    assert first and "closed set; 10 silhouettes, frames 0-9" in first[0] and "first answer, 9 frames" in first[0]
    assert out[-1].startswith("stopped (max frames): 12 frames in ")


def test_window_caps_memory_and_ended_tracks_are_dropped(setup, clip):
    """An endless stream in miniature: the clip, then an empty scene. Every track holds at
    most ``window`` silhouettes and tracker observations, whatever it has seen; the window
    is the same pretreatment as offline; tracks that end are reported and forgotten."""
    from gait_tf.video.frontend import default_tracker
    from gait_tf.video.watch import Watcher

    window = 12
    w = Watcher(setup["gallery_obj"], setup["embed"], tracker=default_tracker(max_missed=5), window=window,
                update_every=5, threshold=0.001)
    frames = list(clip[1]) + [np.full_like(clip[1][0], 128)] * 12
    events, peak = [], {}
    for i, image in enumerate(frames):
        events += w.process(Frame(i, image, time.monotonic()))
        mem = w.memory()
        assert mem["max_silhouettes"] <= window and mem["max_observations"] <= window, (i, mem)
        assert mem["tracker_ended"] == 0
        for tid, st in w.tracks.items():
            peak[tid] = max(peak.get(tid, 0), st.seen)
        if i == CLIP_FRAMES - 1:  # the window holds the last 12 silhouettes, as offline
            offline, _ = setup["offline"].by_id(1).pretreated()
            assert np.array_equal(np.stack(w.tracks[1].silhouettes), offline[-window:])
    assert peak[1] == CLIP_FRAMES > window  # seen in every frame, never more than 12 kept
    answers = [e for e in events if e["event"] == "identity" and e["track_id"] == 1]
    assert [a["n_silhouettes"] for a in answers] == [10, 12, 12, 12, 12]
    assert answers[-1]["window_frames"] == [CLIP_FRAMES - window, CLIP_FRAMES - 1]
    assert w.memory() == {"tracks": 0, "tracker_active": 0, "tracker_ended": 0, "max_silhouettes": 0,
                          "max_observations": 0}
    ended = [e for e in events if e["event"] == "ended"]
    assert {e["track_id"] for e in ended} >= {1, 2, 3}
    assert sum(w.identities.values()) == len(ended) == w.stats["people"]
    with pytest.raises(ValueError, match="min_track_frames"):
        w.tracker.prune(2)
    with pytest.raises(ConfigError, match="window must be at least 10"):
        Watcher(setup["gallery_obj"], setup["embed"], tracker=w.tracker, window=8)


def test_http_stream_that_drops_and_comes_back(setup, clip, capsys):
    """A local MJPEG camera serves frames 0-14, drops the connection, serves 15-29 on the
    next one, then is gone: watch reconnects (tracks restart after the gap), answers on
    both sides, and when the retries run out prints the summary and exits 2."""
    with MJPEGServer(clip[1], plan=[range(0, 15), range(15, 30)]) as cam:
        code = watch(setup, cam.url, "--json", "--buffer", "64", "--max-retries", "2", "--backoff", "0.05",
                     "--timeout", "5")
        assert cam.connections == 4  # 2 served + 2 failed attempts
    cap = capsys.readouterr()
    assert code == 2
    assert "stream lost at frame 30" in cap.err and "after 2 reconnection attempt(s)" in cap.err
    assert cap.err.count("\n") == 1  # one line, no OpenCV/FFmpeg noise
    events = json_lines(cap.out)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["kind"] == "network" and kinds[-1] == "summary"
    drop = kinds.index("retry")
    back = kinds.index("reconnected")
    before = [e for e in events[:drop] if e["event"] == "identity"]
    after = [e for e in events[back:] if e["event"] == "identity"]
    assert {e["track_id"] for e in before} >= {1, 2} and max(e["frame"] for e in before) <= 14
    # the tracks of the first connection end at the drop; new ids after it
    ended_at_drop = [e["track_id"] for e in events[drop:back] if e["event"] == "ended"]
    assert set(ended_at_drop) >= {1, 2}
    assert after and min(e["track_id"] for e in after) > max(ended_at_drop)
    assert all(e["first_frame"] >= 15 and e["frame"] <= 29 for e in after)
    assert events[back]["attempts"] == 1
    retries = [e for e in events if e["event"] == "retry"]
    assert [r["attempt"] for r in retries] == [1, 1, 2] and [r["delay_s"] for r in retries] == [0.05, 0.05, 0.1]
    s = events[-1]
    assert s["stopped"] == "stream lost" and s["frames"] == s["read"] == CLIP_FRAMES and s["reconnects"] == 1


def test_ctrl_c_stops_an_endless_stream_cleanly(setup, clip, tmp_path):
    """An endless live camera (30 fps, looping): SIGINT after the first answer gives the
    summary line and exit code 0; the front end (slower than the camera) got the newest
    frames, the rest were dropped, and the buffer never grew."""
    with MJPEGServer(clip[1], loop=True, fps=30) as cam:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", "gait_tf", "watch", cam.url, "--gallery", setup["gallery"],
                                 "--model", setup["model"], "--json", "--buffer", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = []
        timer = threading.Timer(240, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                lines.append(json.loads(line))
                if lines[-1]["event"] == "identity":
                    proc.send_signal(signal.SIGINT)
                    break
            rest, err = proc.communicate(timeout=60)
        finally:
            timer.cancel()
    assert proc.returncode == 0, err
    lines += json_lines(rest)
    s = lines[-1]
    assert s["event"] == "summary" and s["stopped"] == "interrupted", lines[-3:]
    assert s["frames"] >= 10 and s["dropped"] > 0 and s["read"] - s["dropped"] - s["frames"] in (0, 1, 2)
    assert "Traceback" not in err and "interrupted" not in err


def test_bad_input_is_one_line_exit_2(setup, clip, tmp_path, capsys):
    from gait_tf.gallery import Gallery

    def check(args, message):
        try:
            code = watch(setup, *args)
        except SystemExit as exc:  # argparse
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err

    check(["ftp://host/cam"], "unsupported stream URL scheme 'ftp'")
    check([tmp_path / "nope.mp4"], "nope.mp4: no such video file")
    check([clip[0], "--window", "5"], "--window 5: must be at least MIN_FRAMES (10)")
    check([clip[0], "--backoff", "2", "--max-backoff", "1"], "--max-backoff (1 s) must be >= --backoff (2 s)")
    check([clip[0], "--closed-set", "--threshold", "0.1"], "--closed-set and --threshold exclude each other")
    check([f"http://127.0.0.1:{closed_port()}/x.mjpg", "--max-retries", "0", "--timeout", "2"],
          "cannot open (unreachable, refused or not a video) (reconnection off: --max-retries 0)")
    check(["99", "--max-retries", "0"], "camera 99: cannot open the camera")
    check([clip[0], "--max-retries", "-1"], "argument --max-retries: must be an integer >= 0")
    check([clip[0], "--backoff", "nan"], "argument --backoff: must be a finite number")
    other = tmp_path / "other.gallery"
    g = Gallery("gaitgl", (6, 8))
    g.enroll("someone", np.ones((6, 8), np.float32))
    g.save(other)
    assert cli(["watch", str(clip[0]), "--gallery", str(other), "--model", setup["model"]]) == 2
    assert "holds embeddings of model 'gaitgl'" in capsys.readouterr().err
    empty = tmp_path / "empty.gallery"
    Gallery("gaitset", (6, 8)).save(empty)
    assert cli(["watch", str(clip[0]), "--gallery", str(empty), "--model", setup["model"]]) == 2
    assert "has no subjects" in capsys.readouterr().err
