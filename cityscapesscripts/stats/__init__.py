"""Dataset statistics and class weights (``csStats``): :class:`StatsAccumulator` on arrays,
:func:`dataset_statistics` on a Cityscapes tree."""
