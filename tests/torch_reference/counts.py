"""Expected OpenGait parameter counts per (model, preset) (no torch needed to import)."""

# OpenGait parameter counts (sum of torch parameters, BN running stats excluded) for the
# configurations of configs/gaitset/gaitset{,_OUMVLP}.yaml, configs/gaitpart/gaitpart{,_OUMVLP}.yaml,
# configs/gln/gln_phase{1,2}.yaml and configs/gaitgl/gaitgl{,_OUMVLP}.yaml. Reproduced by the
# torch reference in tests/torch_reference (test_convert_parity.py::test_reference_parameter_counts).
EXPECTED_PARAMS = {
    ("gaitset", "casia_b"): 2_594_592,
    ("gaitset", "oumvlp"): 6_313_536,
    ("gaitpart", "casia_b"): 1_204_000,
    ("gaitpart", "oumvlp"): 4_841_248,
    ("gln", "casia_b"): 14_703_904,
    ("gln", "casia_b_phase1"): 8_541_984,
    ("gln", "casia_b_128"): 14_703_904,
    ("gln", "oumvlp"): 17_806_144,
    ("gaitgl", "casia_b"): 3_096_673,
    ("gaitgl", "oumvlp"): 95_620_449,
}

# GaitBase / DeepGaitV2 / SkeletonGait(++) / GaitEdge: OpenGait configs/gaitbase/*.yaml,
# configs/deepgaitv2/DeepGaitV2_*.yaml, configs/skeletongait/*.yaml, configs/gaitedge/phase2_gaitedge.yaml
# (key: (model, preset) with the preset's mode; ("deepgaitv2", preset, mode) for the other
# DeepGaitV2 variants). Reproduced by tests/torch_reference/{resnet_gait,gaitedge}.py
# (test_resnet_gait.py / test_skeleton.py / test_gaitedge.py::test_reference_parameter_counts).
EXPECTED_PARAMS_ZOO3 = {
    ("gaitbase", "casia_b"): 7_305_408,
    ("gaitbase", "oumvlp"): 28_108_992,
    ("gaitbase", "grew"): 88_922_304,
    ("gaitbase", "gait3d"): 19_290_304,
    ("gaitbase", "ccpg"): 7_411_904,
    ("deepgaitv2", "casia_b"): 8_339_392,
    ("deepgaitv2", "oumvlp"): 29_142_976,
    ("deepgaitv2", "gait3d"): 25_492_160,
    ("deepgaitv2", "grew"): 95_124_160,
    ("deepgaitv2", "ccpg"): 8_445_888,
    ("deepgaitv2", "sustech1k"): 9_060_288,
    ("deepgaitv2", "casia_b", "2d"): 7_305_408,
    ("deepgaitv2", "casia_b", "3d"): 16_595_136,
    ("deepgaitv2", "oumvlp", "3d"): 37_398_720,
    ("deepgaitv2", "gait3d", "3d"): 41_855_680,
    ("skeletongait", "gait3d"): 25_492_736,
    ("skeletongait", "grew"): 95_124_736,
    ("skeletongait", "oumvlp"): 29_143_552,
    ("skeletongait", "ccpg"): 8_446_464,
    ("skeletongait", "sustech1k"): 9_060_864,
    ("skeletongait_pp", "gait3d"): 25_568_608,
    ("skeletongait_pp", "grew"): 95_200_608,
    ("skeletongait_pp", "ccpg"): 8_522_336,
    ("skeletongait_pp", "sustech1k"): 9_136_736,
    ("gaitedge", "casia_b"): 3_634_098,
    ("gaitedge", "casia_b_e2e"): 3_634_098,
}
