"""OpenGait YAML configs -> gait_tf builder arguments (``gait-tf convert --opengait-config``).

A user holding an official OpenGait checkpoint also holds the YAML it was trained with; its
``model_cfg`` (and, for the input size and the GaitGL variant, ``data_cfg`` and the
transforms) fixes the architecture. :func:`builder_config` turns it into the preset and
overrides of ``gait_tf.models.create``, for every OpenGait-derived model of the zoo:

========================  ======================  ==============================================
``--model``               ``model_cfg.model``     keys read
========================  ======================  ==============================================
gaitset                   GaitSet                 in_channels, SeparateFCs, bin_num
gaitpart                  GaitPart                backbone_cfg (Plain: layers_cfg, in_channels),
                                                  SeparateFCs, bin_num
gln                       GLN                     in_channels, lateral_dim, hidden_dim, dropout,
                                                  class_num, SeparateFCs, bin_num,
                                                  Lateral_pretraining
gaitgl                    GaitGL                  channels, class_num, SeparateBNNecks;
                                                  ``data_cfg.dataset_name`` OUMVLP/GREW -> variant
hstl                      HSTL, HSTL_OU,          channels, class_num (the architecture follows
                          HSTL_Gait3D             the model class)
gaitbase                  Baseline                backbone_cfg (ResNet9), SeparateFCs,
                                                  SeparateBNNecks, bin_num
deepgaitv2                DeepGaitV2              Backbone (mode, in_channels 1, layers,
                                                  channels), SeparateBNNecks, use_emb2
skeletongait              DeepGaitV2              the same with ``in_channels: 2``
skeletongait_pp           SkeletonGaitPP          Backbone (in_channels 3, blocks, C),
                                                  SeparateBNNecks, use_emb2
gaitedge                  GaitEdge                GaitGL, Segmentation (U_Net), edge, align,
                                                  kernel_size
========================  ======================  ==============================================

Silhouette input sizes come from the transforms: ``BaseSilCuttingTransform`` on ``img_w``-wide
pickles (``img_w: 128`` in GLN's configs) gives ``img_w x (img_w - 2 * (img_w // 64) * 10)``;
otherwise 64 x 44. Keys that only matter for training (``seg_lr``, ``freeze_half``'s
gradients, ...) are reported as ignored; unknown keys and inconsistent sizes are errors
naming the key.
"""
from __future__ import annotations

from pathlib import Path

from gait_tf.errors import ConfigError

#: gait_tf model -> the OpenGait ``model_cfg.model`` class names it converts
CLASSES = {
    "gaitset": ("GaitSet",), "gaitpart": ("GaitPart",), "gln": ("GLN",), "gaitgl": ("GaitGL",),
    "hstl": ("HSTL", "HSTL_OU", "HSTL_Gait3D"), "gaitbase": ("Baseline",), "deepgaitv2": ("DeepGaitV2",),
    "skeletongait": ("DeepGaitV2",), "skeletongait_pp": ("SkeletonGaitPP",), "gaitedge": ("GaitEdge",),
}


def read_config(path) -> dict:
    """The YAML mapping at ``path`` (ConfigError naming the file otherwise)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--opengait-config {str(path)!r}: file not found")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--opengait-config {str(path)!r}: not valid YAML: {exc}") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_cfg"), dict):
        raise ConfigError(f"--opengait-config {str(path)!r}: no model_cfg mapping (is this an OpenGait config?)")
    return cfg


class _Reader:
    """Reads keys of a mapping, remembering which were used (the rest are reported)."""

    def __init__(self, mapping, where):
        self.m, self.where, self.used = dict(mapping or {}), where, set()

    def get(self, key, default=None, required=False):
        if key not in self.m:
            if required:
                raise ConfigError(f"{self.where}.{key}: missing")
            return default
        self.used.add(key)
        return self.m[key]

    def sub(self, key, required=False):
        value = self.get(key, {} if not required else None, required)
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}.{key}: expected a mapping, got {value!r}")
        return _Reader(value, f"{self.where}.{key}")

    def ignore(self, *keys):
        self.used.update(k for k in keys if k in self.m)

    def unknown(self):
        return [f"{self.where}.{k}" for k in self.m if k not in self.used]


def _ints(value, key, n=None):
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a list of integers, got {value!r}") from None
    if n is not None and len(out) != n:
        raise ConfigError(f"{key}: expected {n} integers, got {list(out)}")
    return out


def _expect(reader, key, want):
    value = reader.get(key)
    if value is not None and value != want:
        raise ConfigError(f"{reader.where}.{key}: {value!r} does not fit this architecture (expected {want!r})")


def _input_hw(cfg):
    """Silhouette size from the evaluator's (else trainer's) transforms."""
    for section in ("evaluator_cfg", "trainer_cfg"):
        transforms = (cfg.get(section) or {}).get("transform") or []
        stack = list(transforms) if isinstance(transforms, list) else [transforms]
        while stack:
            t = stack.pop(0)
            if not isinstance(t, dict):
                continue
            if t.get("type") == "Compose":
                stack = list(t.get("trf_cfg") or []) + stack
                continue
            if "img_w" in t:
                w = int(t["img_w"])
                cut = 0 if t.get("type") != "BaseSilCuttingTransform" else (w // 64) * 10
                return (w, w - 2 * cut)
    return None


def builder_config(cfg, model):
    """``(overrides, notes)``: ``gait_tf.models.create(model, **overrides)`` builds the
    architecture of the OpenGait config ``cfg`` (a dict or a YAML path); ``notes`` lists what
    was inferred or ignored."""
    if not isinstance(cfg, dict):
        cfg = read_config(cfg)
    name = str(model).lower()
    if name not in CLASSES:
        raise ConfigError(f"--opengait-config: model {model!r} is not an OpenGait model of the zoo; "
                          f"supported: {', '.join(sorted(CLASSES))}")
    m = _Reader(cfg["model_cfg"], "model_cfg")
    cls = m.get("model", required=True)
    if cls not in CLASSES[name]:
        owners = sorted(k for k, v in CLASSES.items() if cls in v)
        hint = f" (use --model {' or --model '.join(owners)})" if owners else ""
        raise ConfigError(f"model_cfg.model is {cls!r}, not a {'/'.join(CLASSES[name])} config for --model {name}{hint}")
    notes = []
    hw = _input_hw(cfg)
    out = {}
    if hw is not None and name not in ("gaitedge",):
        out["input_hw"] = hw
        notes.append(f"input_hw {list(hw)} from the config's transform (img_w)")
    handler = globals()[f"_{name}"]
    out.update(handler(m, cfg, notes))
    unknown = m.unknown()
    if unknown:
        raise ConfigError(f"--opengait-config: unknown model_cfg key(s) for {cls}: {', '.join(unknown)}")
    return out, notes


def _separate_fcs(m, parts, cin):
    fcs = m.sub("SeparateFCs")
    _expect(fcs, "parts_num", parts)
    _expect(fcs, "in_channels", cin)
    out = fcs.get("out_channels")
    _expect(fcs, "norm", False)
    return out


def _bnnecks(m, parts, cin):
    neck = m.sub("SeparateBNNecks")
    _expect(neck, "parts_num", parts)
    _expect(neck, "in_channels", cin)
    neck.ignore("norm", "parallel_BN1d")
    return neck.get("class_num", required=True)


def _gaitset(m, cfg, notes):
    c = _ints(m.get("in_channels", [1, 32, 64, 128]), "model_cfg.in_channels", 4)
    bins = _ints(m.get("bin_num", [16, 8, 4, 2, 1]), "model_cfg.bin_num")
    out = _separate_fcs(m, 2 * sum(bins), c[3])
    return {"in_channels": c, "bin_num": bins, **({"out_channels": int(out)} if out is not None else {})}


def _gaitpart(m, cfg, notes):
    bb = m.sub("backbone_cfg")
    _expect(bb, "type", "Plain")
    layers = tuple(str(v) for v in bb.get("layers_cfg", required=True))
    cin = int(bb.get("in_channels", 1))
    bins = _ints(m.get("bin_num", [16]), "model_cfg.bin_num")
    width = int(layers[-1].split("-")[1])
    out = _separate_fcs(m, sum(bins), width)
    res = {"layers_cfg": layers, "in_channels": cin, "bin_num": bins}
    if out is not None:
        res["out_channels"] = int(out)
    return res


def _gln(m, cfg, notes):
    c = _ints(m.get("in_channels", [1, 32, 64, 128]), "model_cfg.in_channels", 4)
    bins = _ints(m.get("bin_num", [16, 8, 4, 2, 1]), "model_cfg.bin_num")
    lateral = int(m.get("lateral_dim", 256))
    hidden = int(m.get("hidden_dim", 256))
    out = _separate_fcs(m, 3 * sum(bins), lateral)
    if out is not None and int(out) != hidden:
        raise ConfigError(f"model_cfg.SeparateFCs.out_channels {out} != model_cfg.hidden_dim {hidden}")
    pretrain = bool(m.get("Lateral_pretraining", False))
    return {"in_channels": c, "bin_num": bins, "lateral_dim": lateral, "hidden_dim": hidden,
            "dropout": float(m.get("dropout", 0.9)), "class_num": int(m.get("class_num", 74)), "pretrain": pretrain}


def _gaitgl(m, cfg, notes):
    channels = _ints(m.get("channels", required=True), "model_cfg.channels")
    dataset = str((cfg.get("data_cfg") or {}).get("dataset_name", ""))
    variant = "oumvlp" if dataset in ("OUMVLP", "GREW") else "casia_b"
    notes.append(f"GaitGL variant {variant!r} from data_cfg.dataset_name {dataset!r} (as OpenGait)")
    want = 4 if variant == "oumvlp" else 3
    if len(channels) != want:
        raise ConfigError(f"model_cfg.channels: the {variant} GaitGL needs {want} widths, got {list(channels)}")
    res = {"channels": channels, "variant": variant, "class_num": int(m.get("class_num", 74))}
    if "SeparateBNNecks" in m.m:
        res["bnneck"] = True
        res["class_num"] = int(_bnnecks(m, 64, channels[-1]))
    return res


def _hstl(m, cfg, notes):
    from gait_tf import models

    cls = m.get("model")
    preset = {"HSTL": "casia_b", "HSTL_OU": "oumvlp", "HSTL_Gait3D": "gait3d"}[cls]
    res = dict(models.get_spec("hstl").presets[preset])
    res["channels"] = _ints(m.get("channels", res["channels"]), "model_cfg.channels")
    res["class_num"] = int(m.get("class_num", res["class_num"]))
    notes.append(f"HSTL regions and bins of the {preset!r} architecture ({cls})")
    return res


def _gaitbase(m, cfg, notes):
    bb = m.sub("backbone_cfg")
    _expect(bb, "type", "ResNet9")
    block = bb.get("block", "BasicBlock")
    if block != "BasicBlock":
        raise ConfigError(f"model_cfg.backbone_cfg.block {block!r}: only BasicBlock is ported")
    channels = _ints(bb.get("channels", [32, 64, 128, 256]), "model_cfg.backbone_cfg.channels", 4)
    layers = _ints(bb.get("layers", [1, 2, 2, 1]), "model_cfg.backbone_cfg.layers", 4)
    strides = _ints(bb.get("strides", [1, 2, 2, 1]), "model_cfg.backbone_cfg.strides", 4)
    bins = _ints(m.get("bin_num", [16]), "model_cfg.bin_num")
    c_last = next((c for c, n in zip(reversed(channels), reversed(layers)) if n > 0), channels[0])
    out = _separate_fcs(m, sum(bins), c_last)
    if out is None:
        raise ConfigError("model_cfg.SeparateFCs.out_channels: missing")
    class_num = _bnnecks(m, sum(bins), int(out))
    return {"channels": channels, "layers": layers, "strides": strides, "maxpool": bool(bb.get("maxpool", True)),
            "in_channels": int(bb.get("in_channel", 1)), "out_channels": int(out), "class_num": int(class_num),
            "bin_num": bins}


def _deepgaitv2_common(m, want_channels):
    bb = m.sub("Backbone", required=True)
    cin = int(bb.get("in_channels", 1))
    if cin != want_channels:
        other = "skeletongait" if cin == 2 else "deepgaitv2"
        raise ConfigError(f"model_cfg.Backbone.in_channels is {cin}: this DeepGaitV2 config is a {other} model "
                          f"(use --model {other})")
    channels = _ints(bb.get("channels", required=True), "model_cfg.Backbone.channels", 4)
    layers = _ints(bb.get("layers", required=True), "model_cfg.Backbone.layers", 4)
    res = {"mode": str(bb.get("mode", required=True)), "channels": channels, "layers": layers,
           "class_num": int(_bnnecks(m, 16, channels[2])), "use_emb2": bool(m.get("use_emb2", False))}
    return res


def _deepgaitv2(m, cfg, notes):
    return _deepgaitv2_common(m, 1)


def _skeletongait(m, cfg, notes):
    return _deepgaitv2_common(m, 2)


def _skeletongait_pp(m, cfg, notes):
    bb = m.sub("Backbone", required=True)
    _expect(bb, "in_channels", 3)
    width = bb.get("C", required=True)
    return {"layers": _ints(bb.get("blocks", required=True), "model_cfg.Backbone.blocks", 4), "width": width,
            "class_num": int(_bnnecks(m, 16, int(128 * width))), "use_emb2": bool(m.get("use_emb2", False))}


def _gaitedge(m, cfg, notes):
    gl = m.sub("GaitGL", required=True)
    channels = _ints(gl.get("channels", required=True), "model_cfg.GaitGL.channels", 3)
    seg = m.sub("Segmentation", required=True)
    _expect(seg, "type", "U_Net")
    _expect(seg, "in_channels", 3)
    freeze = bool(seg.get("freeze_half", True))
    if m.get("seg_lr") is not None:
        notes.append("model_cfg.seg_lr ignored (a training setting: one optimizer here)")
    edge = bool(m.get("edge", True))
    res = {"channels": channels, "class_num": int(gl.get("class_num", 74)), "edge": edge,
           "align": bool(m.get("align", True)), "freeze_encoder": freeze}
    if edge:
        res["kernel_size"] = int(m.get("kernel_size", required=True))
    else:
        m.ignore("kernel_size")
    notes.append("input_hw [128, 128]: CASIA-B*'s crops (override with --set input_hw=[H,W])")
    return res
