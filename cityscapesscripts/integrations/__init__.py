"""Exact Cityscapes metrics inside training frameworks, without temporary files.

* :mod:`.torchmetrics`: ``CityscapesSemantic``, ``CityscapesInstance`` and ``CityscapesPanoptic``,
  ``torchmetrics.Metric`` s whose state torchmetrics synchronises across ranks;
* :mod:`.mmengine`: ``CityscapesSemanticMetric`` and ``CityscapesInstanceMetric``, mmengine metrics a
  mmsegmentation / mmdetection 3.x config names instead of ``CityscapesMetric`` / ``IoUMetric``;
* :mod:`.detectron2`: ``CityscapesSemSegEvaluator`` and ``CityscapesInstanceEvaluator``, drop-in
  replacements of detectron2's evaluators of the same names.

Each adapter feeds the accumulators of :mod:`cityscapesscripts.evaluation` (tensors stay where they
are) and gathers them across ranks, so the numbers are the original toolkit's.  Importing this package
imports no framework; each module imports its own (``docs/training-loops.md``).
"""
