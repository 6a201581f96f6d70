"""Non-learned baselines: Gait Energy Image + nearest neighbour (:mod:`gait_tf.baselines.gei`)."""
from gait_tf.baselines.gei import gait_energy_image, gei_features, run_gei_baseline, synth_gei_dataset

__all__ = ["gait_energy_image", "gei_features", "run_gei_baseline", "synth_gei_dataset"]
