"""``gait-tf pretreat``: raw silhouettes -> OpenGait pickles."""
import numpy as np
from PIL import Image

from gait_tf.cli import main
from gait_tf.data import load_dataset, pretreat_sequence
from gait_tf.data.io import read_gif, read_pickle


def _frames(n, shift=0):
    out = np.zeros((n, 96, 72), np.uint8)
    for t in range(n):
        out[t, 10:90, 20 + shift + t % 3: 40 + shift + t % 3] = 255
    return out


def _write(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:04d}.png")


def test_tree_to_pickles_with_summary(tmp_path, capsys):
    src = tmp_path / "casia"
    _write(src / "001" / "nm-01" / "090", _frames(5))
    frames = _frames(4, shift=5)
    frames[1] = 0  # one empty frame: dropped
    _write(src / "002" / "bg-01" / "000", frames)
    _write(src / "003" / "cl-01" / "180", np.zeros((3, 96, 72), np.uint8))  # all empty: sequence dropped
    (src / "004" / "nm-01" / "090").mkdir(parents=True)  # no frames
    assert main(["pretreat", str(src), "--out", str(tmp_path / "pkl"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "written 2" in out and "dropped (no usable frame) 1" in out and "empty folders 1" in out
    assert "frames kept 8, dropped 4" in out
    ds = load_dataset(tmp_path / "pkl", layout="opengait")
    assert [r.key for r in ds.records] == [("001", "nm-01", "090"), ("002", "bg-01", "000")]
    assert ds.records[1].path.name == "000.pkl"
    assert np.array_equal(ds.load(ds.records[1]), pretreat_sequence(frames))
    # a second run skips existing pickles
    assert main(["pretreat", str(src), "--out", str(tmp_path / "pkl"), "--quiet"]) == 0
    assert "skipped (exist) 2" in capsys.readouterr().out


def test_single_gif_and_png_folder(tmp_path, real_silhouettes_dir):
    gif = real_silhouettes_dir / "cl.gif"
    assert main(["pretreat", str(gif), "--out", str(tmp_path / "o"), "--subject", "007",
                 "--condition", "cl-01", "--view", "090", "--quiet"]) == 0
    seq = read_pickle(tmp_path / "o" / "007" / "cl-01" / "090" / "090.pkl")
    assert np.array_equal(seq, pretreat_sequence(read_gif(gif)))
    _write(tmp_path / "walk", _frames(3))
    assert main(["pretreat", str(tmp_path / "walk"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert read_pickle(tmp_path / "o" / "walk" / "nm-01" / "000" / "000.pkl").shape == (3, 64, 64)


def test_bad_inputs_exit_2_naming_the_culprit(tmp_path, capsys):
    assert main(["pretreat", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'nope'}: input does not exist" in capsys.readouterr().err
    src = tmp_path / "casia"
    _write(src / "001" / "nm-01" / "090", _frames(3))
    _write(src / "002" / "nm-01" / "090", _frames(3))
    bad = src / "002" / "nm-01" / "090" / "0001.png"
    bad.write_bytes(bad.read_bytes()[:30])
    # --strict: one unreadable frame fails its sequence (the old default)
    assert main(["pretreat", str(src), "--out", str(tmp_path / "o"), "--quiet", "--strict"]) == 2
    assert "0001.png: not a readable image" in capsys.readouterr().err
    # another sequence with only unreadable frames fails whole
    _write(src / "003" / "nm-01" / "090", _frames(2))
    for png in (src / "003" / "nm-01" / "090").iterdir():
        png.write_bytes(b"")
    assert main(["pretreat", str(src), "--out", str(tmp_path / "o1"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "written 2" in captured.out and "none of its 2 frame images can be read" in captured.out
    assert "1 of 3 sequence(s) could not be read" in captured.err
    _write(tmp_path / "black", np.zeros((2, 50, 50), np.uint8))
    assert main(["pretreat", str(tmp_path / "black"), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert "black: empty sequence after pretreatment: all 2 frames dropped" in capsys.readouterr().err


def test_unreadable_frames_are_skipped_counted_and_reported(tmp_path, capsys):
    """A 0-byte PNG in a sequence folder lost the whole sequence (OpenGait's pretreatment
    crashes on it); now the frame is skipped, counted and named; --strict restores the old
    behaviour."""
    src = tmp_path / "casia"
    frames = _frames(6)
    _write(src / "001" / "nm-01" / "090", frames)
    _write(src / "002" / "bg-01" / "000", _frames(4, shift=3))
    (src / "001" / "nm-01" / "090" / "0002.png").write_bytes(b"")  # 0 bytes
    cut = src / "001" / "nm-01" / "090" / "0004.png"
    cut.write_bytes(cut.read_bytes()[:40])  # truncated
    assert main(["pretreat", str(src), "--out", str(tmp_path / "pkl"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "written 2" in out and "failed 0" in out
    assert "unreadable frames skipped: 2 in 1 sequence(s) (--strict to fail instead)" in out
    assert "0002.png: not a readable image" in out and "0004.png:" in out
    seq = read_pickle(tmp_path / "pkl" / "001" / "nm-01" / "090" / "090.pkl")
    assert np.array_equal(seq, pretreat_sequence(frames[[0, 1, 3, 5]]))  # the four readable frames
    assert main(["pretreat", str(src), "--out", str(tmp_path / "strict"), "--quiet", "--strict"]) == 2
    assert "0002.png: not a readable image" in capsys.readouterr().err
    assert not (tmp_path / "strict" / "001").exists()
