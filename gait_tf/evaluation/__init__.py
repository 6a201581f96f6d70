"""Model-agnostic evaluation: chunked distances, rank-k / mAP / mINP, the papers' protocols.

Inputs are embeddings ``[N, parts, dim]`` (or ``[N, dim]``) plus numpy string arrays of
subjects (``"001"``), conditions (``"nm-01"``) and views (``"090"``). NumPy only: no
TensorFlow import here (see :mod:`gait_tf.evaluation.embed` for running a model).
"""
from gait_tf.evaluation.distance import as_parts, iter_distance_rows, pairwise_distance, topk
from gait_tf.evaluation.metrics import (
    RankingAccumulator,
    evaluate_retrieval,
    mean_average_precision,
    mean_inverse_negative_penalty,
    rank_k_accuracy,
    ranking_metrics,
)
from gait_tf.evaluation.protocols import (
    CASIA_B_VIEWS,
    OUMVLP_VIEWS,
    PROTOCOLS,
    casia_b,
    casia_b_map,
    cross_view_gallery,
    de_diag,
    evaluate,
    gait3d,
    grew,
    oumvlp,
    probe_gallery,
    single_view_gallery,
)
from gait_tf.evaluation.report import summary_line, to_markdown, write_report
from gait_tf.evaluation.svm import LinearSVMIdentifier

__all__ = [
    "summary_line", "to_markdown", "write_report", "LinearSVMIdentifier",
    "as_parts", "iter_distance_rows", "pairwise_distance", "topk",
    "RankingAccumulator", "evaluate_retrieval", "mean_average_precision",
    "mean_inverse_negative_penalty", "rank_k_accuracy", "ranking_metrics",
    "CASIA_B_VIEWS", "OUMVLP_VIEWS", "PROTOCOLS", "casia_b", "casia_b_map",
    "cross_view_gallery", "de_diag", "evaluate", "gait3d", "grew", "oumvlp",
    "probe_gallery", "single_view_gallery",
]
