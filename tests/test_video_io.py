"""Video readers and writers: mp4 / avi / GIF / folders / arrays, streaming, errors, overlay."""
import types

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from gait_tf.errors import VideoError
from gait_tf.video import VideoReader, draw_overlay, iter_frames, read_video, write_video


def _clip(t=12, h=48, w=64):
    """A bright square moving right over a dark gradient: uint8 [T, H, W, 3]."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[:] = np.linspace(20, 80, w, dtype=np.uint8)[None, None, :, None]
    for i in range(t):
        frames[i, 12:36, 3 * i:3 * i + 16] = (230, 60, 40)
    return frames


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".gif"])
def test_write_then_read_roundtrip(tmp_path, ext):
    clip = _clip()
    path = tmp_path / f"clip{ext}"
    assert write_video(path, iter(clip), fps=10) == len(clip)
    reader = VideoReader(path)
    assert reader.frame_count == len(clip)
    assert reader.fps == pytest.approx(10, rel=0.05)
    back = read_video(path)
    assert back.shape == clip.shape and back.dtype == np.uint8
    err = np.abs(back.astype(int) - clip.astype(int)).mean()
    assert err < (1.0 if ext == ".gif" else 6.0), err
    # the moving square is where it was drawn (lossy codecs keep it)
    for i in (0, 6, 11):
        assert back[i, 14:34, 3 * i + 2:3 * i + 14, 0].mean() > 180


def test_read_files_written_by_other_libraries(tmp_path):
    clip = _clip(t=8)
    iio.imwrite(tmp_path / "a.gif", clip, extension=".gif", duration=50, loop=0)
    writer = cv2.VideoWriter(str(tmp_path / "b.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 8.0, (64, 48))
    for f in clip:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    a = read_video(tmp_path / "a.gif")
    b = read_video(tmp_path / "b.avi")
    assert a.shape == b.shape == clip.shape
    assert VideoReader(tmp_path / "a.gif").fps == pytest.approx(20)
    # RGB order is preserved (red square, not blue)
    assert b[0, 20, 5, 0] > 180 and b[0, 20, 5, 2] < 90


def test_streaming_reader_is_lazy_and_reiterable(tmp_path):
    clip = _clip(t=20)
    write_video(tmp_path / "c.mp4", clip, fps=25)
    reader = VideoReader(tmp_path / "c.mp4", step=3, max_frames=5)
    it = iter(reader)
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    assert first.shape == (48, 64, 3)
    assert len(list(reader)) == 5 == reader.frame_count  # frames 0, 3, 6, 9, 12
    assert len(list(reader)) == 5  # a second pass re-opens the file
    assert reader.fps == pytest.approx(25 / 3)
    gen = iter_frames(tmp_path / "c.mp4")
    assert isinstance(gen, types.GeneratorType)


def test_folder_npy_and_array_sources(tmp_path):
    clip = _clip(t=11)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(clip):  # unpadded numbers: natural order needed
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_video(folder), clip)
    np.testing.assert_array_equal(read_video(folder / "f3.png"), clip[3:4])  # one picture = one frame
    np.save(tmp_path / "clip.npy", clip)
    np.testing.assert_array_equal(read_video(tmp_path / "clip.npy"), clip)
    grey = clip[..., 0]
    out = read_video(grey)
    assert out.shape == clip.shape and np.array_equal(out[..., 1], grey)
    np.testing.assert_array_equal(read_video(clip.astype(np.float32) / 255.0), clip)


def test_bad_sources_raise_video_error(tmp_path):
    with pytest.raises(VideoError, match="no such video"):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "x.xyz").write_bytes(b"abc")
    with pytest.raises(VideoError, match="unknown video format"):
        VideoReader(tmp_path / "x.xyz")
    (tmp_path / "bad.mp4").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(VideoError, match="bad.mp4.*unreadable"):
        list(VideoReader(tmp_path / "bad.mp4"))
    (tmp_path / "bad.gif").write_bytes(b"GIF89a-not-really")
    with pytest.raises(VideoError, match="bad.gif"):
        list(VideoReader(tmp_path / "bad.gif"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="no images"):
        VideoReader(tmp_path / "empty")
    with pytest.raises(VideoError, match="empty video"):
        list(VideoReader(np.zeros((0, 8, 8, 3), np.uint8)))
    with pytest.raises(VideoError, match="NaN"):
        list(VideoReader(np.full((2, 8, 8), np.nan, np.float32)))
    with pytest.raises(VideoError, match="no frames"):
        write_video(tmp_path / "none.mp4", [], fps=5)
    with pytest.raises(VideoError, match="cannot write"):
        write_video(tmp_path / "x.webp", _clip(t=2))
    assert not list(tmp_path.glob("none*"))  # no half-written output left behind


def test_draw_overlay_tints_mask_and_draws_box():
    frame = np.full((40, 50, 3), 100, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:30, 20:30] = True
    out = draw_overlay(frame, mask, (18, 8, 32, 32), label="track 1", color=(255, 0, 0), alpha=0.5)
    assert out[20, 25, 0] == pytest.approx(178, abs=1) and out[20, 25, 1] == pytest.approx(50, abs=1)
    assert tuple(out[8, 25]) == (255, 0, 0)  # box top edge
    assert tuple(out[2, 2]) == (100, 100, 100)  # untouched elsewhere
    assert frame[20, 25, 0] == 100  # input not modified
    with pytest.raises(VideoError, match="mask shape"):
        draw_overlay(frame, mask[:10])
