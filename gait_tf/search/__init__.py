"""Nearest-subject search over a gallery's embeddings, behind one small interface.

:class:`~gait_tf.search.base.SearchIndex` answers "which enrolled subjects are nearest to
these probes, and at what distance" for embeddings ``[M, P, D]`` grouped by subject label;
:class:`~gait_tf.search.exact.ExactIndex` compares every probe with every embedding (the
default and the reference), :class:`~gait_tf.search.ann.FaissIndex` finds candidates with
an approximate FAISS index and re-ranks them with the exact distance. Both return the
package's distance (Euclidean per part averaged over parts, or cosine), so an open-set
threshold means the same with either.

``make_index(choose_kind(M, "auto"), metric)`` picks exact below :data:`ANN_MIN_SIZE`
embeddings and FAISS above it. :class:`gait_tf.gallery.Gallery` uses this module for all its
searches; docs/evaluation.md ("Large galleries") describes the index and its recall.
"""
from gait_tf.search.base import (ANN_MIN_SIZE, KINDS, SearchIndex, choose_kind, faiss_available, make_index,
                                 restore_index)
from gait_tf.search.exact import ExactIndex

__all__ = ["ANN_MIN_SIZE", "KINDS", "SearchIndex", "ExactIndex", "choose_kind", "make_index", "restore_index",
           "faiss_available"]
