"""The evaluators' figures: the pixel-level confusion matrix and the instance precision-recall curves.

matplotlib is loaded on first use through :mod:`cityscapesscripts.plotting`, the one place that
imports it; figures are saved atomically.
"""
import math

import numpy as np

from .. import plotting
from ..helpers.labelset import CITYSCAPES
from . import instance_ap


def plot_confusion_matrix(result, path, label_set=CITYSCAPES):
    """Save a heat map of the row-normalised confusion matrix of evaluated classes (matplotlib)."""
    plt = plotting.pyplot()
    conf = np.asarray(result["confMatrix"], dtype=np.float64)
    ids = [i for i in label_set.eval_ids if not label_set.id2label[i].ignoreInEval]
    sub = conf[np.ix_(ids, ids)]
    rows = sub.sum(axis=1, keepdims=True)
    norm = np.divide(sub, rows, out=np.zeros_like(sub), where=rows > 0)
    names = [label_set.id2label[i].name for i in ids]
    fig, ax = plt.subplots(figsize=(0.45 * len(ids) + 3, 0.45 * len(ids) + 2))
    im = ax.imshow(norm, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(ids)), names, rotation=90)
    ax.set_yticks(range(len(ids)), names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    ax.set_title(f"Confusion matrix (row-normalised), mIoU {result['averageScoreClasses']:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    try:
        return plotting.save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)


def plot_pr_curves(matches, inst_labels, path, overlaps=instance_ap.OVERLAPS):
    """Save the precision-recall curves of each class at IoU 0.5 (one panel per class; matplotlib).

    Each panel draws the non-increasing precision envelope (the best
    precision reachable at that recall or more) over the raw points, gives
    the class's AP at IoU 0.5 in its legend, and marks the score threshold of
    the best F1.  The AP integrates the raw points, as the benchmark defines it.
    Returns the absolute path.
    """
    plt = plotting.pyplot()
    curves = {}
    ap = instance_ap.average_precision(matches, inst_labels, overlaps, curves=curves)
    o50 = int(np.argmin(np.abs(np.asarray(overlaps) - 0.5)))
    columns = min(4, len(inst_labels))
    rows = -(-len(inst_labels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for c, label in enumerate(inst_labels):
        ax = axes.flat[c]
        value = ap[0, c, o50]
        legend = f"AP50 {value:.3f}" if not math.isnan(value) else "AP50 n/a"
        if (label, o50) in curves:
            _draw_pr_panel(ax, *curves[(label, o50)], legend)
        else:
            ax.text(0.5, 0.5, "no ground truth" if math.isnan(value) else "no predictions", ha="center",
                    va="center", transform=ax.transAxes, color="grey")
            ax.plot([], [], color="C0", label=legend)
            ax.legend(loc="lower left", fontsize=7)
        ax.set_title(label, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
    for ax in axes.flat[len(inst_labels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("recall")
    for ax in axes[:, 0]:
        ax.set_ylabel("precision")
    fig.suptitle("Precision-recall at IoU 0.5")
    fig.tight_layout()
    try:
        return plotting.save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)


def _draw_pr_panel(ax, precision, recall, thresholds, legend):
    """One class: raw points, their envelope, and the best-F1 threshold."""
    order = np.argsort(recall, kind="stable")
    recall, precision, thresholds = recall[order], precision[order], thresholds[order]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    ax.plot(recall, precision, ".", color="C0", alpha=0.35, markersize=3)
    ax.plot(recall, envelope, drawstyle="steps-pre", color="C0", label=legend)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(recall),
                   where=(precision + recall) > 0)
    best = int(np.argmax(f1))
    if f1[best] > 0:
        ax.plot(recall[best], precision[best], "o", color="C3",
                label=f"best F1 {f1[best]:.2f} at score {thresholds[best]:.2f}")
    ax.legend(loc="lower left", fontsize=7)
