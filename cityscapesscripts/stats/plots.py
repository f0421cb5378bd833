"""``csStats``' figures, drawn from the result dict (matplotlib, loaded only here).

* class frequency: pixels per class as bars on a log scale, train classes in their label colour;
* instance sizes: one histogram of instance areas (log-spaced bins) per class with instances;
* city x class: each class's share of a city's pixels, a heat map on a log colour scale.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import plotting
from ..helpers.labelset import CITYSCAPES, LabelSet

NAMES = ("class_frequency", "instance_sizes", "city_class")
_OTHER = (0.6, 0.6, 0.6)  # classes that are not trained on


def class_colours(result: dict[str, Any], label_set: LabelSet = CITYSCAPES) -> list[tuple[float, float, float]]:
    """The bar colour of each class of the result: its label's colour for a train class, grey otherwise."""
    colours = []
    for entry in result["classes"].values():
        train_id = entry["train_id"]
        if train_id == 255:
            colours.append(_OTHER)
        else:
            label_id = entry["label_ids"][0] if result["train_ids"] else entry["id"]
            colours.append(tuple(c / 255 for c in label_set.id_to_color[label_id]))
    return colours


def class_frequency(result: dict[str, Any], label_set: LabelSet = CITYSCAPES):
    """A figure: pixels per class, log scale, the share of all pixels written above each bar."""
    plt = plotting.pyplot()
    names = list(result["classes"])
    pixels = np.array([e["pixels"] for e in result["classes"].values()], float)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(names) + 1.5), 5))
    bars = ax.bar(range(len(names)), np.where(pixels > 0, pixels, np.nan), color=class_colours(result, label_set),
                  edgecolor="black", linewidth=0.4)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("pixels (log scale)")
    total = pixels.sum()
    for bar, value in zip(bars, pixels):
        if value > 0:
            ax.annotate(f"{100 * value / total:.2g}%", (bar.get_x() + bar.get_width() / 2, value), ha="center",
                        va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
    ax.set_title(f"Pixels per class, {result['images']} images (grey: not trained on)")
    ax.grid(axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def instance_sizes(result: dict[str, Any], label_set: LabelSet = CITYSCAPES):
    """A figure: one histogram of instance areas per class with instances (log-spaced bins)."""
    plt = plotting.pyplot()
    sizes = result["instance_sizes"]
    classes = list(sizes) or ["(no instances)"]
    columns = min(4, len(classes))
    rows = -(-len(classes) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    colours = dict(zip(result["classes"], class_colours(result, label_set)))
    for ax, name in zip(axes.flat, classes):
        if name not in sizes:
            ax.text(0.5, 0.5, "no instances", ha="center", va="center", transform=ax.transAxes)
            continue
        log = sizes[name]["log_histogram"]
        ax.stairs(log["counts"], log["edges"], fill=True, color=colours.get(name, _OTHER), edgecolor="black",
                  linewidth=0.5)
        ax.set_xscale("log")
        ax.set_title(f"{name}: {sizes[name]['count']} (median {sizes[name]['median']:.0f} px)", fontsize=9)
        ax.set_xlabel("instance area (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(classes):]:
        ax.set_visible(False)
    fig.suptitle("Instance sizes per class")
    fig.tight_layout()
    return fig


def city_class(result: dict[str, Any], label_set: LabelSet = CITYSCAPES):
    """A figure: each class's share of a city's labelled pixels (rows: split/city, columns: classes)."""
    from matplotlib.colors import LogNorm
    plt = plotting.pyplot()
    names = [n for n, e in result["classes"].items() if e["pixels"] > 0] or list(result["classes"])
    rows, shares = [], []
    for split, entry in result["splits"].items():
        for city, counts in entry["cities"].items():
            pixels = np.array([counts["classes"][n]["pixels"] for n in names], float)
            rows.append(f"{split}/{city}")
            shares.append(pixels / pixels.sum() if pixels.sum() else pixels)
    shares = np.array(shares).reshape(len(rows), len(names))
    fig, ax = plt.subplots(figsize=(0.38 * len(names) + 3, 0.32 * max(len(rows), 4) + 2.2))
    masked = np.ma.masked_less_equal(shares, 0)
    positive = shares[shares > 0]
    norm = LogNorm(vmin=max(positive.min(), 1e-6), vmax=positive.max()) if positive.size else None
    image = ax.imshow(masked, aspect="auto", cmap="viridis", norm=norm, interpolation="nearest")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title("Share of each city's pixels per class (log colour; blank: absent)")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    return fig


def plot_paths(out: str) -> dict[str, str]:
    """Where :func:`save_plots` writes each figure: ``out`` a .png names the class-frequency plot and
    the others get its name with ``_instance_sizes`` / ``_city_class``; any other ``out`` is a folder."""
    if out.lower().endswith(".png"):
        stem = out[:-4]
        return {NAMES[0]: out, NAMES[1]: f"{stem}_{NAMES[1]}.png", NAMES[2]: f"{stem}_{NAMES[2]}.png"}
    return {name: os.path.join(out, f"{name}.png") for name in NAMES}


def save_plots(result: dict[str, Any], out: str, label_set: LabelSet = CITYSCAPES) -> list[str]:
    """Save the three figures (see :func:`plot_paths`); returns their absolute paths."""
    plt = plotting.pyplot()
    paths = plot_paths(out)
    folder = os.path.dirname(paths[NAMES[0]])
    if folder:
        os.makedirs(folder, exist_ok=True)
    saved = []
    for name, draw in zip(NAMES, (class_frequency, instance_sizes, city_class)):
        figure = draw(result, label_set)
        try:
            saved.append(plotting.save_figure(figure, paths[name], dpi=110))
        finally:
            plt.close(figure)
    return saved
