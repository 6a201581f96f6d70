"""Registry entries of the pose pipeline (export/benchmark tools see them like any model).

* ``"humanpose"``: image ``[B, 299, 299, 3]`` float32 in [-1, 1] -> ``{"features"
  [B, 17, 17, 32], "logits", "heatmaps" [B, 289, 289, 16]}`` (:func:`gait_tf.pose.human_pose.build_pose_model`).
* ``"gaitnn"``: pose features ``[B, T, 17, 17, 32]`` -> ``{"embeddings" [B, 1, 512]}`` (+ ``"logits"``
  ``[B, 1, num_classes]`` when ``num_classes > 0``) (:class:`gait_tf.pose.gait_network.GaitNNModel`).
"""
from gait_tf.models.registry import register_model


@register_model(
    "humanpose", input_kind="image", input_hw=(299, 299), channels=3,
    presets={"irv2": {"backbone": "inception_resnet_v2"}, "fast": {"backbone": "mobilenet_v2"}},
    default_preset="irv2",
    description="HumanPoseNN: Inception-ResNet-v2 joint heat maps + 17x17x32 pose features",
)
def humanpose(backbone="inception_resnet_v2", num_block35=10, num_block17=20, dropout=0.3):
    from gait_tf.pose.human_pose import build_pose_model

    return build_pose_model(backbone, num_block35=num_block35, num_block17=num_block17, dropout=dropout)


@register_model(
    "gaitnn", input_kind="pose_features", input_hw=(17, 17), channels=32,
    presets={"gru1": {"recurrent_unit": "GRU", "rnn_layers": 1}, "gru2": {"recurrent_unit": "GRU", "rnn_layers": 2},
             "lstm1": {"recurrent_unit": "LSTM", "rnn_layers": 1}, "lstm2": {"recurrent_unit": "LSTM", "rnn_layers": 2}},
    default_preset="gru1",
    description="GaitNN: pose features -> residual CNN -> GRU/LSTM -> 512-d identification vector",
)
def gaitnn(recurrent_unit="GRU", rnn_layers=1, num_classes=0, dropout=0.3):
    from gait_tf.pose.gait_network import GaitNNModel

    model = GaitNNModel(recurrent_unit=recurrent_unit, rnn_layers=rnn_layers, num_classes=num_classes,
                        dropout=dropout)
    model.build()
    return model
