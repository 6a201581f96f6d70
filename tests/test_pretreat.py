"""Silhouette pretreatment (gait_tf.data.pretreat) against OpenGait's own output.

Golden files ``tests/data/opengait_pretreat_{nm,bg,cl}.npz`` (key ``sils``, uint8
[T, 64, 64]) were produced by running OpenGait's
``datasets/pretreatment.py::imgs2pickle`` (ShiqiYu/OpenGait commit
0efafd4779f127fbce34f22aff301bd82e923da5, ``img_size=64``, ``dataset='CASIAB'``,
OpenCV 4 / numpy 2 from this project's venv) outside the repository on the frames of
``../shared/data/real_silhouettes/{nm,bg,cl}.gif``: each GIF frame was converted with
Pillow ``Image.convert("L")`` (ITU-R 601 luma, the same conversion as
``gait_tf.data.io.read_gif``) and saved as a grey PNG named ``<name>-<iii>.png`` in
``001/<name>-01/090/``; ``imgs2pickle`` read them back with ``cv2.imread(...,
IMREAD_GRAYSCALE)`` and its pickle was stored as the golden array. No OpenGait code is
part of this repository.
"""
import numpy as np
import pytest

from gait_tf.data import cut_width, pretreat_sequence
from gait_tf.data.io import read_gif
from gait_tf.errors import DataError


@pytest.fixture(scope="module")
def golden(repo_root):
    def load(name):
        return np.load(repo_root / "tests" / "data" / f"opengait_pretreat_{name}.npz")["sils"]
    return load


@pytest.mark.parametrize("name", ["nm", "bg", "cl"])
def test_matches_opengait_imgs2pickle(real_silhouettes_dir, golden, name):
    frames = read_gif(real_silhouettes_dir / f"{name}.gif")
    assert frames.dtype == np.uint8 and frames.shape[1:] == (128, 128)
    ours = pretreat_sequence(frames, source=name)
    ref = golden(name)
    assert ours.shape == ref.shape  # same frame count, [T, 64, 64]
    assert ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    assert diff.mean() <= 1.0, f"{name}: mean abs diff {diff.mean():.3f} grey levels"
    # the person is centred: the column mass crosses half at the middle column
    mass = ours.astype(np.int64).sum(axis=(0, 1)).cumsum()
    assert abs(int(np.argmax(mass > mass[-1] / 2)) - 32) <= 2


def _walker_frame(h=120, w=100, top=20, bottom=110, left=40, right=60):
    img = np.zeros((h, w), np.uint8)
    img[top:bottom, left:right] = 255
    return img


def test_crop_resize_centre_synthetic():
    seq = np.stack([_walker_frame(), _walker_frame(left=10, right=30)])
    out, kept = pretreat_sequence(seq, return_kept=True)
    assert out.shape == (2, 64, 64) and kept.all()
    # the 90x20 box becomes 64 rows x int(64*20/90)=14 columns, centred at column 32
    for frame in out:
        cols = np.flatnonzero(frame.max(axis=0) > 127)
        assert frame[0].max() > 0 and frame[-1].max() > 0  # touches top and bottom
        assert 12 <= len(cols) <= 16
        assert abs((cols[0] + cols[-1]) / 2 - 32) <= 1.5
    # both boxes look the same after centring, whatever their horizontal position
    # (up to the sub-pixel phase of the bicubic resampling grid)
    assert np.abs(out[0].astype(int) - out[1].astype(int)).mean() < 4


def test_drops_empty_frames_and_reports_kept():
    seq = np.stack([_walker_frame(), np.zeros((120, 100), np.uint8), _walker_frame()])
    seq[1, 5, 5] = 255  # a speck: far below the 10000 grey-level threshold
    out, kept = pretreat_sequence(seq, return_kept=True)
    assert out.shape[0] == 2
    assert kept.tolist() == [True, False, True]


def test_all_frames_empty_names_source():
    with pytest.raises(DataError, match=r"walk-07.*all 3 frames dropped"):
        pretreat_sequence(np.zeros((3, 50, 50), np.uint8), source="walk-07")


@pytest.mark.parametrize(
    "arr, pattern",
    [
        (np.full((2, 64, 64), np.nan, np.float32), "float32 and contains NaN"),
        (np.zeros((2, 64, 64), np.float64), "dtype float64"),
        (np.zeros((2, 64, 64), np.int32), "dtype int32"),
        (np.zeros((2, 64, 64, 3), np.uint8), "colour frames"),
        (np.zeros((0, 64, 64), np.uint8), "empty sequence"),
    ],
)
def test_bad_arrays_raise_data_error(arr, pattern):
    with pytest.raises(DataError, match=pattern) as info:
        pretreat_sequence(arr, source="seq-x")
    assert "seq-x" in str(info.value)


def test_bool_and_01_masks_are_accepted():
    ref = pretreat_sequence(_walker_frame())
    assert np.array_equal(pretreat_sequence(_walker_frame() > 0), ref)
    with pytest.warns(UserWarning, match="mask-7: uint8 0/1 masks scaled to 0/255"):
        out = pretreat_sequence((_walker_frame() > 0).astype(np.uint8), source="mask-7")
    assert np.array_equal(out, ref)


def test_cut_width():
    seq = np.arange(2 * 64 * 64, dtype=np.int64).reshape(2, 64, 64) % 251
    cut = cut_width(seq.astype(np.uint8))
    assert cut.shape == (2, 64, 44)
    assert np.array_equal(cut, seq[:, :, 10:54])
    with pytest.raises(DataError, match="W > 20"):
        cut_width(np.zeros((2, 64, 20), np.uint8))
