"""`gait-tf train` trains RGB-sequence models (GaitNet, seg3d) with the same trainer:
checkpoints and resume included."""
from gait_tf.cli import main


def test_rgb_config_loads_with_its_model_section(capsys, repo_root):
    code = main(["train", "--config", str(repo_root / "training/configs/gaitnet_synthetic.yaml"),
                 "--print-config"])
    out = capsys.readouterr().out
    assert code == 0
    assert "name: gaitnet" in out and "gaitnet:" in out
    # one loader for every model: GaitNet's loss section is validated because GaitNet's
    # registered loss declares it; another model's config may not carry it
    from gait_tf.errors import ConfigError
    from gait_tf.train.config import load_config
    import yaml

    cfg = load_config(repo_root / "training/configs/gaitnet_synthetic.yaml")
    assert set(cfg["gaitnet"]) == {"reconstruction", "similarity", "identity"}
    raw = yaml.safe_load((repo_root / "training/configs/gaitnet_synthetic.yaml").read_text())
    raw["model"] = {"name": "seg3d"}
    try:
        load_config(raw=raw)
    except ConfigError as exc:
        assert "gaitnet" in str(exc)
    else:
        raise AssertionError("a seg3d config must not accept a gaitnet section")


def test_rgb_model_trains_and_resumes_through_the_cli(capsys, repo_root, tmp_path):
    import json

    args = ["train", "--config", str(repo_root / "training/configs/seg3d_synthetic.yaml"),
            "--workdir", str(tmp_path / "run"),
            "--set", f"data.synthetic={{subjects: '1-3', conditions: 'nm-01,cl-01', views: '090', "
                     f"image_size: [96, 128], n_frames: 6, root: '{tmp_path / 'cache'}'}}",
            "--set", "model.overrides.channels=[4, 4, 8]", "--set", "data.p=3", "--set", "data.k=2",
            "--set", "data.frames=4", "--set", "train.iterations=2", "--set", "train.checkpoint_every=1",
            "--set", "train.progress=false"]
    assert main(args + ["--max-steps", "1"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["step"] == 1 and not first["finished"] and first["checkpoint"]
    assert main(args) == 0  # resumes at step 1 and finishes
    out = capsys.readouterr()
    second = json.loads(out.out.strip().splitlines()[-1])
    assert second["step"] == 2 and second["finished"] and (tmp_path / "run/model.keras").is_file()
    steps = [json.loads(line)["step"] for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
