"""Dataset readers, frame/pickle I/O validation and partitions (gait_tf.data)."""
import json
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

from gait_tf.data import get_partition, list_partitions, load_dataset, pretreat_sequence, split_records
from gait_tf.data.io import (SilhouetteConversionWarning, read_frames_dir, read_gif, read_image,
                             read_pickle, read_sequence, write_pickle)
from gait_tf.data.readers import EmptySequenceWarning, dataset_from_arrays
from gait_tf.errors import ConfigError, DataError


def walker_frames(n=6, h=96, w=72, shift=0, seed=0):
    """uint8 [n, h, w] box 'walkers' with grey edges, swinging legs."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, h, w), np.uint8)
    for t in range(n):
        left = 25 + shift + int(rng.integers(0, 4))
        out[t, 12:80, left:left + 16] = 255
        leg = 4 * (t % 3)
        out[t, 80:92, left - leg:left + 6] = 255
        out[t, 80:92, left + 10:left + 16 + leg] = 255
        out[t, 11, left:left + 16] = 128  # grey edge as CASIA-B
    return out


def write_png_dir(folder, frames, prefix="f"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{prefix}-{i:03d}.png")
    return folder


def make_casia_tree(root, subjects=("001", "002", "003"), conds=("nm-01", "bg-01"), views=("000", "090")):
    for si, s in enumerate(subjects):
        for c in conds:
            for v in views:
                write_png_dir(root / s / c / v, walker_frames(5, shift=si, seed=hash((s, c, v)) % 1000),
                              prefix=f"{s}-{c}-{v}")
    return root


@pytest.fixture()
def casia_root(tmp_path):
    return make_casia_tree(tmp_path / "casia")


# --------------------------------------------------------------------------- layouts
def test_casia_b_reader_pretreats_on_load(casia_root):
    ds = load_dataset(casia_root, layout="casia_b")
    assert len(ds) == 12 and ds.subjects == ["001", "002", "003"]
    assert ds.conditions == ["bg-01", "nm-01"] and ds.views == ["000", "090"]
    rec = ds.records[0]
    assert (rec.subject, rec.condition, rec.view) == ("001", "bg-01", "000")
    assert rec.path == casia_root / "001" / "bg-01" / "000"
    seq = ds.load(rec)
    expected = pretreat_sequence(read_frames_dir(rec.path))
    assert seq.dtype == np.uint8 and seq.shape == (5, 64, 64)
    assert np.array_equal(seq, expected)
    assert ds.load(rec) is seq  # cached
    assert ds.cached_bytes == seq.nbytes
    assert load_dataset(casia_root).layout == "casia_b"  # auto-detected


def test_opengait_reader_and_filter(tmp_path, casia_root):
    src = load_dataset(casia_root, layout="casia_b")
    for r in src.records:
        write_pickle(tmp_path / "pkl" / r.subject / r.condition / r.view / f"{r.view}.pkl", src.load(r))
    ds = load_dataset(tmp_path / "pkl")
    assert ds.layout == "opengait" and len(ds) == 12
    for a, b in zip(src.records, ds.records):
        assert a.key == b.key and b.path.suffix == ".pkl"
        assert np.array_equal(src.load(a), ds.load(b))
    sub = ds.filter(subjects=["002"], conditions=["nm"], views=[90])
    assert [r.key for r in sub.records] == [("002", "nm-01", "090")]
    assert sub.load(sub.records[0]) is ds.load(sub.records[0])  # shared cache


def test_oumvlp_original_and_rearranged_layouts(tmp_path):
    for view, seq in (("000", "00"), ("090", "01")):
        for subj in ("00001", "00002"):
            write_png_dir(tmp_path / "raw" / f"Silhouette_{view}-{seq}" / subj, walker_frames(4))
            write_png_dir(tmp_path / "rearranged" / subj / seq / view, walker_frames(4))
    (tmp_path / "raw" / "README.txt").write_text("not a sequence")
    ds = load_dataset(tmp_path / "raw", layout="oumvlp")
    assert [r.key for r in ds.records] == [
        ("00001", "00", "000"), ("00001", "01", "090"), ("00002", "00", "000"), ("00002", "01", "090")]
    assert ds.load(ds.records[0]).shape == (4, 64, 64)
    assert load_dataset(tmp_path / "raw").layout == "oumvlp"
    re_ds = load_dataset(tmp_path / "rearranged", layout="oumvlp")
    assert [r.key for r in re_ds.records] == [r.key for r in ds.records]


def test_gif_and_sequence_dispatch(tmp_path, real_silhouettes_dir):
    gif = read_sequence(real_silhouettes_dir / "bg.gif")
    assert gif.shape == (47, 128, 128)
    assert np.array_equal(gif, read_gif(real_silhouettes_dir / "bg.gif"))
    write_png_dir(tmp_path / "seq", gif[:3])
    assert np.array_equal(read_sequence(tmp_path / "seq"), gif[:3])
    assert read_sequence(tmp_path / "seq" / "f-000.png").shape == (1, 128, 128)


# --------------------------------------------------------------------------- bad input
def test_missing_root_and_unknown_layout(tmp_path):
    with pytest.raises(DataError, match="nowhere.*does not exist"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="unknown dataset layout 'casia'.*opengait, casia_b, oumvlp"):
        load_dataset(tmp_path, layout="casia")
    with pytest.raises(DataError, match="cannot detect the dataset layout"):
        load_dataset(tmp_path)


def test_wrong_layout_hint(casia_root):
    with pytest.raises(DataError, match="no sequences found for layout 'opengait'.*looks like layout 'casia_b'"):
        load_dataset(casia_root, layout="opengait")


def test_empty_sequence_folder_and_subject_without_sequences(casia_root):
    (casia_root / "004" / "nm-01" / "090").mkdir(parents=True)  # subject with no frames at all
    (casia_root / "001" / "nm-02" / "090").mkdir(parents=True)
    with pytest.warns(EmptySequenceWarning, match="2 empty sequence folder"):
        ds = load_dataset(casia_root, layout="casia_b")
    assert len(ds) == 12 and "004" not in ds.subjects
    assert ds.empty_subjects == ["004"]
    with pytest.raises(DataError, match="empty sequence folder"):
        load_dataset(casia_root, layout="casia_b", on_empty="error")
    with pytest.raises(DataError, match=r"004/nm-01/090: empty sequence: no frame images"):
        read_frames_dir(casia_root / "004" / "nm-01" / "090")


def test_all_frames_empty_is_named(casia_root):
    folder = write_png_dir(casia_root / "005" / "nm-01" / "090", np.zeros((3, 96, 72), np.uint8))
    ds = load_dataset(casia_root, layout="casia_b")
    rec = next(r for r in ds.records if r.subject == "005")
    with pytest.raises(DataError, match=f"{folder}: empty sequence after pretreatment: all 3 frames dropped"):
        ds.load(rec)


def test_corrupt_and_truncated_png(tmp_path):
    folder = write_png_dir(tmp_path / "seq", walker_frames(3))
    good = (folder / "f-001.png").read_bytes()
    (folder / "f-001.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="f-001.png: corrupt or truncated image"):
        read_frames_dir(folder)
    (folder / "f-001.png").write_bytes(b"this is not a png at all")
    with pytest.raises(DataError, match="f-001.png: not a readable image"):
        read_frames_dir(folder)


def test_corrupt_truncated_and_malicious_pickles(tmp_path):
    path = write_pickle(tmp_path / "a.pkl", np.full((4, 64, 64), 255, np.uint8))
    assert read_pickle(path).shape == (4, 64, 64)
    data = path.read_bytes()
    (tmp_path / "t.pkl").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="t.pkl: corrupt or truncated pickle"):
        read_pickle(tmp_path / "t.pkl")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"cmd": print}))
    with pytest.raises(DataError, match="evil.pkl: not a silhouette pickle.*refusing to load builtins.print"):
        read_pickle(tmp_path / "evil.pkl")
    cases = {
        "nan.pkl": (np.full((2, 64, 64), np.nan, np.float32), "contains NaN"),
        "f64.pkl": (np.zeros((2, 64, 64)), "expected uint8.*float64"),
        "size.pkl": (np.full((2, 128, 88), 255, np.uint8), "expected frames of 64x64.*128x88"),
        "black.pkl": (np.zeros((2, 64, 64), np.uint8), "all 2 frames are black"),
        "rank.pkl": (np.zeros((64, 64), np.uint8), r"expected shape \[T, H, W\]"),
    }
    for name, (arr, pattern) in cases.items():
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(arr, fh)
        with pytest.raises(DataError, match=f"{name}: .*{pattern}"):
            read_pickle(tmp_path / name)
    with open(tmp_path / "ragged.pkl", "wb") as fh:
        pickle.dump([np.zeros((64, 64), np.uint8), np.zeros((64, 44), np.uint8)], fh)
    with pytest.raises(DataError, match="ragged.pkl: frames of different sizes"):
        read_pickle(tmp_path / "ragged.pkl")


def test_corrupt_pickle_in_dataset_names_file(tmp_path):
    path = write_pickle(tmp_path / "001" / "nm-01" / "090" / "090.pkl", np.full((3, 64, 64), 255, np.uint8))
    path.write_bytes(path.read_bytes()[:50])
    ds = load_dataset(tmp_path, layout="opengait")
    with pytest.raises(DataError, match="090.pkl: corrupt or truncated pickle"):
        ds.load(ds.records[0])


def test_frames_of_different_sizes(tmp_path):
    folder = write_png_dir(tmp_path / "seq", walker_frames(2))
    Image.fromarray(walker_frames(1, h=100)[0]).save(folder / "f-009.png")
    with pytest.raises(DataError, match=r"seq: frames of different sizes.*f-000.png is 72x96 but f-009.png is 72x100"):
        read_frames_dir(folder)


def test_colour_frames_converted_or_rejected(tmp_path):
    grey = walker_frames(1)[0]
    # grey-equal RGB: converted, with a warning
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "rgb_grey.png")
    with pytest.warns(SilhouetteConversionWarning, match="equal channels converted to grey"):
        out = read_image(tmp_path / "rgb_grey.png")
    assert np.array_equal(out, grey)
    # a real colour image (a person in a red shirt on a green/blue background): rejected
    rng = np.random.default_rng(0)
    photo = np.stack([rng.integers(0, 80, grey.shape), rng.integers(60, 200, grey.shape),
                      rng.integers(60, 200, grey.shape)], axis=-1).astype(np.uint8)
    photo[grey > 0] = (200, 30, 40)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with pytest.raises(DataError, match="photo.png: colour image .*rejected"):
        read_image(tmp_path / "photo.png")
    # a grey photograph (not binary): rejected
    Image.fromarray(rng.integers(1, 255, grey.shape).astype(np.uint8)).save(tmp_path / "greyphoto.png")
    with pytest.raises(DataError, match="greyphoto.png: not a silhouette: .*mid-grey.*rejected"):
        read_image(tmp_path / "greyphoto.png")
    # grey edges (CASIA-B) are fine and binary '1' images are converted silently
    Image.fromarray(grey > 0).save(tmp_path / "binary.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "binary.png").max() == 255


def test_real_gif_decodes_without_warning(real_silhouettes_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = read_gif(real_silhouettes_dir / "nm.gif")
    assert frames.shape == (60, 128, 128)
    lit = frames[frames > 0]
    assert (lit >= 243).mean() > 0.8  # mostly white person, some grey edge levels
    assert len(np.unique(frames)) > 2


def test_in_memory_dataset_validation():
    with pytest.raises(DataError, match=r"sequence \('001', 'nm-01', '090'\): expected uint8 \[T, 64, 64\]"):
        dataset_from_arrays({("001", "nm-01", "090"): np.zeros((3, 64, 44), np.uint8)})


# --------------------------------------------------------------------------- partitions
def test_builtin_partitions():
    assert list_partitions() == ["LT", "MT", "ST"]
    for name, n_train in (("LT", 74), ("MT", 62), ("ST", 24)):
        part = get_partition(name)
        assert len(part["train"]) == n_train and part["train"][0] == "001"
        assert part["train"][-1] == f"{n_train:03d}"
        assert part["test"][0] == f"{n_train + 1:03d}" and part["test"][-1] == "124"
        assert len(part["train"]) + len(part["test"]) == 124
    assert get_partition("lt") == get_partition("CASIA-B-LT")


def test_partition_json_and_errors(tmp_path, casia_root):
    path = tmp_path / "part.json"
    path.write_text(json.dumps({"TRAIN_SET": ["002", "001"], "TEST_SET": ["003"]}))
    assert get_partition(path) == {"train": ["001", "002"], "test": ["003"]}
    with pytest.raises(ConfigError, match="unknown partition 'XL'; known partitions: LT, MT, ST"):
        get_partition("XL")
    with pytest.raises(ConfigError, match="missing.json.*does not exist"):
        get_partition(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: cannot read JSON"):
        get_partition(tmp_path / "bad.json")
    (tmp_path / "overlap.json").write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["001"]}))
    with pytest.raises(ConfigError, match="overlap.json: subjects in both"):
        get_partition(tmp_path / "overlap.json")
    ds = load_dataset(casia_root, layout="casia_b")
    train, test = split_records(ds, path)
    assert train.subjects == ["001", "002"] and test.subjects == ["003"]
    with pytest.raises(DataError, match="71 train subject.*004, 005"):
        split_records(ds, "LT")
    train, test = split_records(ds, "LT", missing="ignore")
    assert train.subjects == ["001", "002", "003"] and len(test) == 0


def test_truncated_gif(tmp_path, real_silhouettes_dir):
    data = (real_silhouettes_dir / "nm.gif").read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut.gif: corrupt or truncated GIF after \d+ frames"):
        read_sequence(tmp_path / "cut.gif")


def test_colour_gif_says_what_is_wrong(tmp_path, real_silhouettes_dir):
    """An RGB GIF was refused as "corrupt or truncated GIF after 0 frames"."""
    from PIL import ImageSequence

    frames = []
    with Image.open(real_silhouettes_dir / "nm.gif") as gif:
        for frame in ImageSequence.Iterator(gif):
            g = np.asarray(frame.convert("L"))
            rgb = np.stack([g, g // 3, (255 - g) * (g > 0)], axis=-1).astype(np.uint8)  # a colour picture
            frames.append(Image.fromarray(rgb))
    frames[0].save(tmp_path / "colour.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(DataError) as info:
        read_sequence(tmp_path / "colour.gif")
    message = str(info.value)
    assert "corrupt or truncated" not in message
    assert message.startswith(f"{tmp_path / 'colour.gif'} (frame 0): colour image (P, mean chroma")
    assert "where a silhouette is expected" in message and "gait-tf silhouettes" in message
