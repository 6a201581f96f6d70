"""`gait-tf train` sends RGB-sequence models (GaitNet, seg3d) to their own training loop."""
from gait_tf.cli import main


def test_rgb_config_is_dispatched_to_rgb_loader(capsys, repo_root):
    code = main(["train", "--config", str(repo_root / "training/configs/gaitnet_synthetic.yaml"),
                 "--print-config"])
    out = capsys.readouterr().out
    assert code == 0
    assert "name: gaitnet" in out
    # the generic silhouette loader refuses this config's `gaitnet:` section; the RGB loader takes it
    from gait_tf.errors import ConfigError
    from gait_tf.train.config import load_config

    try:
        load_config(repo_root / "training/configs/gaitnet_synthetic.yaml")
    except ConfigError as exc:
        assert "gaitnet" in str(exc)
    else:
        raise AssertionError("the silhouette loader should not accept the gaitnet section")


def test_rgb_unsupported_option_is_a_clear_error(capsys, repo_root):
    code = main(["train", "--config", str(repo_root / "training/configs/gaitnet_synthetic.yaml"),
                 "--max-minutes", "1"])
    assert code == 2
    assert "--max-minutes" in capsys.readouterr().err
