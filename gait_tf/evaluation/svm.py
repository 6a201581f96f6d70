"""Linear SVM identification over embeddings (the HumanPoseNN/GaitNN approach).

The original GaitNN pipeline (marian-margeta/gait-recognition) turns each sequence into an
identification vector and trains a linear classifier over the known people. Here:
embeddings ``[N, P, D]`` / ``[N, D]`` are flattened, L2-normalised and standardised, and a
one-vs-rest :class:`sklearn.svm.LinearSVC` is fitted. Closed set: every probe gets one of
the training subjects (use :class:`gait_tf.Gallery` for open-set answers).
"""
from __future__ import annotations

import numpy as np

from gait_tf.errors import DataError, GalleryError


def _flatten(embeddings) -> np.ndarray:
    x = np.asarray(embeddings, np.float32)
    if x.ndim not in (2, 3):
        raise DataError(f"embeddings: expected [N, D] or [N, P, D], got shape {x.shape}")
    x = x.reshape(len(x), -1)
    if not np.all(np.isfinite(x)):
        raise DataError("embeddings contain NaN or infinite values")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class LinearSVMIdentifier:
    """Linear SVM over identification vectors.

    Args:
        C: inverse regularisation strength of :class:`~sklearn.svm.LinearSVC`.
        max_iter: liblinear iterations.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 5000, seed: int = 0):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        self.pipeline = make_pipeline(StandardScaler(), LinearSVC(C=C, max_iter=max_iter, random_state=seed))
        self.input_shape = None

    @property
    def classes_(self) -> np.ndarray:
        return self.pipeline[-1].classes_

    def fit(self, embeddings, subjects) -> "LinearSVMIdentifier":
        """Fit on embeddings ``[N, P, D]`` / ``[N, D]`` with subject ids ``[N]`` (>= 2 subjects)."""
        x = _flatten(embeddings)
        y = np.asarray(subjects).astype(str)
        if y.shape != (len(x),):
            raise DataError(f"subjects: expected shape ({len(x)},), got {y.shape}")
        if len(set(y.tolist())) < 2:
            raise DataError("a linear SVM needs embeddings of at least 2 subjects")
        self.input_shape = tuple(np.shape(embeddings)[1:])
        self.pipeline.fit(x, y)
        return self

    def _check(self, embeddings):
        if self.input_shape is None:
            raise GalleryError("LinearSVMIdentifier is not fitted: call fit() first")
        if tuple(np.shape(embeddings)[1:]) != self.input_shape:
            raise GalleryError(f"embeddings of shape {np.shape(embeddings)[1:]} refused; fitted on {self.input_shape}")
        return _flatten(embeddings)

    def decision_function(self, embeddings) -> np.ndarray:
        """One-vs-rest scores ``[N, num_subjects]`` (columns in ``classes_`` order)."""
        scores = self.pipeline.decision_function(self._check(embeddings))
        if scores.ndim == 1:  # binary case: score of classes_[1]
            scores = np.stack([-scores, scores], axis=1)
        return scores

    def predict(self, embeddings) -> np.ndarray:
        """Predicted subject id per embedding, str ``[N]``."""
        return self.pipeline.predict(self._check(embeddings)).astype(str)

    def rank(self, embeddings, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k ``(subject_id, score)`` per embedding, highest score first."""
        scores = self.decision_function(embeddings)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        return [[(str(self.classes_[j]), float(s[j])) for j in row] for row, s in zip(order, scores)]

    def score(self, embeddings, subjects) -> float:
        """Accuracy (%) on labelled embeddings."""
        return 100.0 * float(np.mean(self.predict(embeddings) == np.asarray(subjects).astype(str)))

    @classmethod
    def from_gallery(cls, gallery, **kwargs) -> "LinearSVMIdentifier":
        """Fit on the enrolled embeddings of a :class:`gait_tf.Gallery`."""
        return cls(**kwargs).fit(gallery.embeddings.astype(np.float32), gallery.labels)
