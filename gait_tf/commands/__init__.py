"""One module per ``gait-tf`` subcommand; each defines ``register(subparsers)``.

See :mod:`gait_tf.cli`. Keep imports at module level light (no TensorFlow).
"""
