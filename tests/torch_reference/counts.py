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
