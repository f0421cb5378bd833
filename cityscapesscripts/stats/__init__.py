"""Dataset statistics and class weights (``csStats``): :class:`StatsAccumulator` on arrays,
:func:`dataset_statistics` on a Cityscapes tree (definitions: docs/stats.md)."""
from .engine import StatsAccumulator
from .files import dataset_statistics

__all__ = ["StatsAccumulator", "dataset_statistics"]
