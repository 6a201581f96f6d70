"""`gait-tf evaluate`, `gait-tf gallery`, `gait-tf identify`, reports and plots end to end."""
import json

import numpy as np
import pytest

from gait_tf.cli import main
from gait_tf.evaluation import CASIA_B_VIEWS, evaluate
from gait_tf.evaluation.embed import save_embeddings
from gait_tf.evaluation.report import to_markdown

CONDS = ["nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02"]


def _synthetic_embeddings(n_subjects=6, views=CASIA_B_VIEWS, noise=0.6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_subjects, 4, 8))
    rows, emb = [], []
    for s in range(n_subjects):
        for c in CONDS:
            for v in views:
                rows.append((f"{s:03d}", c, v))
                scale = noise if c.startswith("nm") else 2.5 * noise
                emb.append(centres[s] + scale * rng.normal(size=(4, 8)))
    subj, cond, view = (np.array([r[i] for r in rows]) for i in range(3))
    return {"embeddings": np.array(emb, np.float32), "subjects": subj, "conditions": cond, "views": view}


def test_evaluate_embeddings_file_writes_report_and_plots(tmp_path, capsys):
    data = _synthetic_embeddings()
    npz = save_embeddings(tmp_path / "emb.npz", data)
    out = tmp_path / "report"
    assert main(["evaluate", "--embeddings", str(npz), "--protocol", "casia_b", "--out", str(out),
                 "--scatter", "pca"]) == 0
    printed = capsys.readouterr().out
    expected = evaluate("casia_b", data["embeddings"], data["subjects"], data["conditions"], data["views"])
    report = json.loads((out / "report.json").read_text())
    for name in ("NM", "BG", "CL"):
        assert report["summary"][name] == pytest.approx(expected["summary"][name])
        assert len(report["probe_sets"][name]["per_view"]) == 11
    # the papers' table: rows NM/BG/CL, columns the 11 views + Mean
    md = (out / "report.md").read_text()
    header = "| Probe | " + " | ".join(CASIA_B_VIEWS) + " | Mean |"
    assert header in md and header in printed
    nm_row = next(line for line in md.splitlines() if line.startswith("| NM |"))
    assert nm_row.endswith(f"| {expected['summary']['NM']:.1f} |")
    for png in ("heatmap_NM.png", "heatmap_BG.png", "heatmap_CL.png", "per_view.png", "embeddings.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left


def test_cross_view_markdown_and_json_nan(tmp_path):
    data = _synthetic_embeddings(views=("000", "090"))
    r = evaluate("casia_b_mAP", data["embeddings"], data["subjects"], data["conditions"], data["views"])
    md = to_markdown(r)
    assert "## mAP (%)" in md and "| Probe | 000 | 090 | Mean |" in md
    data["conditions"][data["conditions"] == "cl-01"] = "cl-09"  # no CL probe -> NaN -> null / "-"
    npz = save_embeddings(tmp_path / "emb.npz", data)
    assert main(["evaluate", "--embeddings", str(npz), "--protocol", "casia_b_mAP", "--out", str(tmp_path / "o"),
                 "--no-plots"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["summary"]["CL-mAP"] is None
    assert report["summary"]["NM-mAP"] == pytest.approx(r["summary"]["NM-mAP"])
    assert "| CL | - | - | - |" in (tmp_path / "o" / "report.md").read_text()


def test_evaluate_errors_exit_2(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert main(["evaluate", "--embeddings", str(tmp_path / "bad.npz")]) == 2
    assert "bad.npz" in capsys.readouterr().err
    np.savez(tmp_path / "nokeys.npz", embeddings=np.zeros((3, 4), np.float32))
    assert main(["evaluate", "--embeddings", str(tmp_path / "nokeys.npz")]) == 2
    assert "subjects" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(tmp_path)]) == 2


def _tiny_model(path):
    """Parameter-free model: max over time of the 4x4-block mean intensities -> [B, 4, 4]."""
    import keras

    inp = keras.Input((None, 64, 44, 1))
    x = keras.layers.TimeDistributed(keras.layers.AveragePooling2D((16, 11)))(inp)
    x = keras.layers.TimeDistributed(keras.layers.Flatten())(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Reshape((4, 4))(x)
    model = keras.Model(inp, {"embeddings": x}, name="tiny")
    model.save(path)
    return model


def _write_dataset(root, views=("000", "090"), n_subjects=3, seed=0):
    """OpenGait pickles: subject s shows its own 4x4 pattern of block intensities."""
    from gait_tf.data import write_pickle

    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, size=(n_subjects, 4, 4))
    for s in range(n_subjects):
        for c in CONDS:
            for v in views:
                grid = np.clip(patterns[s] + rng.normal(0, 8, size=(3, 4, 4)), 0, 255)
                frames = np.zeros((3, 64, 64), np.uint8)
                frames[:, :, 10:54] = np.repeat(np.repeat(grid, 16, axis=1), 11, axis=2).astype(np.uint8)
                write_pickle(root / f"{s:03d}" / c / v / f"{v}.pkl", frames)


def test_evaluate_model_over_dataset(tmp_path, capsys, real_silhouettes_dir):
    model = _tiny_model(tmp_path / "model.keras")
    _write_dataset(tmp_path / "data")
    out = tmp_path / "out"
    rc = main(["evaluate", "--model", str(tmp_path / "model.keras"), "--data", str(tmp_path / "data"),
               "--layout", "opengait", "--protocol", "casia_b", "--out", str(out), "--no-plots", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    # each subject's pattern is far from the others' (noise 8 grey levels): all correct
    assert report["summary"] == {"NM": 100.0, "BG": 100.0, "CL": 100.0}
    assert report["embedding_shape"] == [4, 4] and report["num_sequences"] == 3 * 10 * 2
    with np.load(out / "embeddings.npz") as npz:
        emb, subjects = npz["embeddings"], npz["subjects"]
        # tagged with the model's identity (its Keras name), as galleries are: not the file's
        # name ("model", the trainer's default export)
        assert str(npz["model"]) == "tiny"
    # the saved embedding of the first record equals a direct call on its frames
    from gait_tf.data import read_pickle

    seq = read_pickle(tmp_path / "data" / "000" / "bg-01" / "000" / "000.pkl")
    direct = np.asarray(model(seq[None, :, :, 10:54, None].astype(np.float32) / 255.0)["embeddings"])[0]
    np.testing.assert_allclose(emb[0], direct, atol=1e-6)
    assert subjects[0] == "000"

    # enroll the evaluated embeddings, then identify a pretreated pickle through the model
    g = str(tmp_path / "tiny.gallery")
    # --model-name defaults to the embeddings' model; calibrating with embeddings of the same
    # model is accepted (it was refused: "model" vs "tiny")
    assert main(["gallery", "create", g, "--embeddings", str(out / "embeddings.npz")]) == 0
    assert main(["gallery", "calibrate", g, "--embeddings", str(out / "embeddings.npz"), "--far", "0.05"]) == 0
    assert main(["gallery", "info", g]) == 0 and '"model_name": "tiny"' in capsys.readouterr().out
    probe = tmp_path / "data" / "002" / "cl-02" / "090" / "090.pkl"
    capsys.readouterr()
    assert main(["identify", "--gallery", g, "--model", str(tmp_path / "model.keras"), "--sequence", str(probe),
                 "--top-k", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{probe}: 002 ")
    # raw silhouettes (GIF) are pretreated, embedded and enrolled; the same walker in
    # another condition is found among the synthetic subjects
    assert main(["gallery", "enroll", g, "--model", str(tmp_path / "model.keras"), "--sequence",
                 str(real_silhouettes_dir / "nm.gif"), "--subject", "real"]) == 0
    capsys.readouterr()
    assert main(["identify", "--gallery", g, "--model", str(tmp_path / "model.keras"), "--sequence",
                 str(real_silhouettes_dir / "bg.gif"), "--closed-set"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(f"{real_silhouettes_dir / 'bg.gif'}: real ")

    # the Python API: a Gallery whose embed_fn is the model enrolls raw uint8 sequences
    from gait_tf.evaluation.embed import model_embed_fn
    from gait_tf.gallery import Gallery

    api = Gallery("tiny", (4, 4), embed_fn=model_embed_fn(model))
    api.enroll("000", read_pickle(tmp_path / "data" / "000" / "nm-01" / "000" / "000.pkl"))
    api.enroll("001", read_pickle(tmp_path / "data" / "001" / "nm-01" / "000" / "000.pkl"))
    assert api.identify(read_pickle(tmp_path / "data" / "001" / "bg-02" / "090" / "090.pkl")).identity == "001"


def test_gallery_and_identify_commands(tmp_path, capsys):
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(6, 2, 8)).astype(np.float32) * 3
    enroll = centres[:4] + 0.05 * rng.normal(size=(4, 2, 8))
    ids = np.array(["ann", "ben", "cat", "dan"])
    save_embeddings(tmp_path / "enroll.npz", {"embeddings": enroll.astype(np.float32), "subjects": ids},
                    model="toy")
    held = (centres[4:, None] + 0.05 * rng.normal(size=(2, 5, 2, 8))).reshape(10, 2, 8).astype(np.float32)
    save_embeddings(tmp_path / "held.npz", {"embeddings": held, "subjects": np.repeat(["x", "y"], 5)})
    # cat, then a stranger far from everyone (distance ~85 per part vs ~12 between held-out people)
    probes = np.concatenate([centres[[2]], np.full((1, 2, 8), 30.0)]).astype(np.float32)
    save_embeddings(tmp_path / "probe.npz", {"embeddings": probes, "subjects": np.array(["p-cat", "p-new"])})
    g = str(tmp_path / "people.gallery")
    assert main(["gallery", "create", g, "--model-name", "toy", "--embeddings", str(tmp_path / "enroll.npz")]) == 0
    assert main(["gallery", "calibrate", g, "--embeddings", str(tmp_path / "held.npz"), "--far", "0.1"]) == 0
    cal = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    # 10 held-out embeddings: 45 pairs, 2*10 = 20 genuine, 25 impostor -> <= 2 accepted
    assert cal["num_impostor"] == 25 and cal["achieved_far"] <= 0.1
    assert main(["identify", "--gallery", g, "--embeddings", str(tmp_path / "probe.npz"), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith("p-cat: cat ") and lines[2].startswith("p-new: unknown ")
    assert main(["identify", "--gallery", g, "--embeddings", str(tmp_path / "probe.npz"), "--json",
                 "--closed-set"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res[1]["identity"] != "unknown" and len(res[1]["matches"]) == 4
    # embeddings declared as another model's are refused
    save_embeddings(tmp_path / "other.npz", {"embeddings": probes, "subjects": np.array(["a", "b"])}, model="gaitset")
    assert main(["identify", "--gallery", g, "--embeddings", str(tmp_path / "other.npz")]) == 2
    assert "model 'gaitset'" in capsys.readouterr().err
    # enroll more, then info
    assert main(["gallery", "enroll", g, "--embeddings", str(tmp_path / "held.npz")]) == 0
    capsys.readouterr()
    assert main(["gallery", "info", g]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_subjects"] == 6 and info["model_name"] == "toy" and info["embedding_shape"] == [2, 8]
    # --closed-set and --threshold contradict each other
    assert main(["identify", "--gallery", g, "--embeddings", str(tmp_path / "probe.npz"), "--closed-set",
                 "--threshold", "1"]) == 2
    assert "--closed-set and --threshold exclude each other" in capsys.readouterr().err
    # a gallery that would enroll nobody is refused unless --allow-empty
    save_embeddings(tmp_path / "none.npz", {"embeddings": np.zeros((0, 2, 8), np.float32),
                                            "subjects": np.zeros((0,), str)}, model="toy")
    empty = str(tmp_path / "empty.gallery")
    assert main(["gallery", "create", empty, "--embeddings", str(tmp_path / "none.npz")]) == 2
    assert "holds 0 embeddings" in capsys.readouterr().err and not (tmp_path / "empty.gallery").exists()
    assert main(["gallery", "create", empty, "--model-name", "toy", "--shape", "2,8"]) == 2
    assert "--allow-empty" in capsys.readouterr().err and not (tmp_path / "empty.gallery").exists()
    assert main(["gallery", "create", empty, "--embeddings", str(tmp_path / "none.npz"), "--allow-empty"]) == 0
    assert "is empty" in capsys.readouterr().err
    assert main(["gallery", "info", empty]) == 0
    assert json.loads(capsys.readouterr().out)["num_embeddings"] == 0
    # a truncated gallery is reported with its name, exit 2
    raw = (tmp_path / "people.gallery").read_bytes()
    (tmp_path / "cut.gallery").write_bytes(raw[:100])
    assert main(["identify", "--gallery", str(tmp_path / "cut.gallery"), "--embeddings",
                 str(tmp_path / "probe.npz")]) == 2
    assert "cut.gallery" in capsys.readouterr().err
