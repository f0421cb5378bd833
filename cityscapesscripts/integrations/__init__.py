"""Cityscapes metrics inside training frameworks (torchmetrics, mmengine, detectron2); each adapter imports its framework lazily."""
