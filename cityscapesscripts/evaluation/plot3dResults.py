"""csPlot3dDetectionResults: the figure of a Cityscapes 3D ``results.json``, the original's face.

The figure is the original's (results table and legend, spider chart of AP
and the DDTP metrics, PR curves, AP per depth, the four DDTP metrics per
depth with marker sizes by sample count).  Difference, on purpose: the
original only calls ``plt.show()``, so without a display it drew nothing and
wrote nothing; ``-o OUT.png`` (``plot_data(..., path=...)``) saves the figure.
matplotlib is needed to draw (``pip install matplotlib``);
without it the module imports, with ``plt`` and ``Axes`` None.
"""
import argparse  # noqa: F401  (the original module's namespace)
import json
import os
import sys
import warnings
from typing import List, Tuple  # noqa: F401  (the original module's namespace)

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
except ImportError:
    plt = Axes = None

from cityscapesscripts import cli
from cityscapesscripts.errors import ArgumentError, CityscapesError, DependencyError, ResultsError
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.io.jsonfile import read_json
from cityscapesscripts.plotting import MISSING_MATPLOTLIB, save_figure

CATEGORIES = ["AP", "Center_Dist", "Size_Similarity", "OS_Yaw", "OS_Pitch_Roll"]
DDTP_CATEGORIES = CATEGORIES[1:]


def _pyplot():
    if plt is None:
        raise DependencyError(MISSING_MATPLOTLIB)
    return plt


def csToMplColor(label):
    """The label's Cityscapes colour as matplotlib RGB in [0, 1]."""
    return [x / 255. for x in name2label[label].color]


def create_table_row(axis, x_pos, y_pos, data_dict, title, key, subdict_key=None):
    """A column of per-class scores of ``data_dict[key]`` (x 100) with its mean ``data_dict['m' + key]``."""
    axis.text(x_pos, y_pos, title, fontdict={"weight": "bold"})
    y_pos -= 0.1
    value_x = x_pos + 0.2
    for cat, value in data_dict[key].items():
        value = value if subdict_key is None else value[subdict_key]
        axis.text(x_pos, y_pos, cat)
        axis.text(value_x, y_pos, "{:.4f}".format(value * 100), ha="right")
        y_pos -= 0.1
    y_pos -= 0.05
    axis.text(x_pos, y_pos, "Mean", fontdict={"weight": "bold"})
    axis.text(value_x, y_pos, "{:.4f}".format(data_dict["m" + key] * 100), fontdict={"weight": "bold"}, ha="right")


def create_result_table_and_legend_plot(axis, data_to_plot, handles_labels):
    """The top-left panel: AP and Detection Score tables, the class legend and a note on marker sizes."""
    missing = [k for k in ("Detection_Score", "mDetection_Score", "AP", "mAP") if k not in data_to_plot]
    if missing:
        raise ResultsError(f"results lack {', '.join(missing)}")
    axis.axis("off")
    axis.text(0, 0.95, "Results", fontdict={"weight": "bold", "size": 16})
    create_table_row(axis, 0.00, 0.75, data_to_plot, title="2D AP", key="AP", subdict_key="auc")
    create_table_row(axis, 0.28, 0.75, data_to_plot, title="Detection Score", key="Detection_Score")
    axis.text(0.6, 0.95, "Legend", fontdict={"weight": "bold", "size": 16})
    axis.legend(*handles_labels, frameon=True, loc="upper left", bbox_to_anchor=(0.6, 0.75), ncol=2)
    axis.text(0.6, 0.0, "The size of each data-point-marker indicates\n"
                        "the relative amount of samples for that data-\n"
                        "point, with large dots indicate larger samples.")


def create_spider_chart_plot(axis, data_to_plot, categories, accept_classes):
    """Spider chart of AP and the DDTP metrics (each scaled by the class AP), per class and their mean."""
    vals = {cat: [v["auc"] for c, v in data_to_plot[cat].items() if c in accept_classes] for cat in categories}
    for key in DDTP_CATEGORIES:
        vals[key] = [v * float(ap) for v, ap in zip(vals[key], vals["AP"])]
    angles = [n / float(len(categories)) * 2 * np.pi for n in range(len(categories))]
    angles += angles[:1]
    axis.set_theta_offset(np.pi / 2.)
    axis.set_theta_direction(-1)
    axis.set_rlabel_position(0)
    axis.set_yticks([0.25, 0.50, 0.75])
    axis.set_yticklabels(["0.25", "0.50", "0.75"], color="grey", size=7)
    axis.tick_params(axis="x", direction="out", pad=10)
    axis.set_ylim([0, 1])
    axis.set_xticks(np.arange(0, 2.0 * np.pi, np.pi / 2.5))
    axis.set_xticklabels([c.replace("_", "-") for c in categories])
    for idx, label in enumerate(accept_classes):
        values = [vals[cat][idx] for cat in categories]
        values += values[:1]
        axis.plot(angles, values, linewidth=1, linestyle="solid", color=csToMplColor(label))
        axis.fill(angles, values, color=csToMplColor(label), alpha=0.05)
    with warnings.catch_warnings():  # classes without results: the mean is NaN, as in the original
        warnings.simplefilter("ignore", RuntimeWarning)
        means = [np.mean(vals[cat]) for cat in categories] + [np.mean(vals["AP"])]
    axis.plot(angles, means, linewidth=1, linestyle="solid", color="r", label="Mean")
    axis.legend(bbox_to_anchor=(0, 0))


def create_AP_plot(axis, data_to_plot, accept_classes, max_depth):
    """AP per depth bin, one line per class."""
    if "AP_per_depth" not in data_to_plot:
        raise ResultsError("results lack AP_per_depth")
    axis.set_title("AP per depth")
    axis.set_ylim([0, 1.01])
    axis.set_ylabel("AP")
    for label in accept_classes:
        aps = data_to_plot["AP_per_depth"][label]
        fill_standard_subplot(axis, [float(d) for d in aps], [float(v["auc"]) for v in aps.values()], label, [],
                              max_depth)


def set_up_xaxis(axis, max_depth, num_ticks):
    """x from 0 to ``max_depth`` with ``num_ticks + 1`` labelled ticks."""
    ticks = np.linspace(0, max_depth, num_ticks + 1)
    axis.set_xlim([0, max_depth])
    axis.set_xticks(ticks)
    axis.set_xticklabels(["{:.1f}".format(x) for x in ticks])


def set_up_PR_plot_axis(axis, min_iou, matching_method):
    """Title, labels, limits and ticks of the precision-recall panel."""
    axis.set_title("PR Curve@{:.2f} ({})".format(min_iou, matching_method))
    axis.set_xlabel("Recall")
    axis.set_ylabel("Precision")
    axis.set_xlim([0, 1.0])
    axis.set_ylim([0, 1.01])
    axis.set_xticks(np.arange(0, 1.01, 0.1))
    axis.set_xticklabels([x / 10. for x in range(11)])


def create_all_axes(max_depth, num_ticks):
    """``(results axes, spider axes, six panel axes)`` on a 4 x 2 grid; depth panels share x."""
    plt = _pyplot()
    ax_results = plt.subplot2grid((4, 2), (0, 0))
    ax_spider = plt.subplot2grid((4, 2), (0, 1), polar=True)
    ax1 = plt.subplot2grid((4, 2), (1, 0))
    ax2 = plt.subplot2grid((4, 2), (1, 1))
    rest = [plt.subplot2grid((4, 2), cell, sharex=ax2) for cell in ((2, 0), (2, 1), (3, 0), (3, 1))]
    set_up_xaxis(ax2, max_depth, num_ticks)
    rest[2].set_xlabel("Depth [m]")
    rest[3].set_xlabel("Depth [m]")
    return ax_results, ax_spider, (ax1, ax2, *rest)


def create_PR_plot(axis, data, accept_classes):
    """Precision-recall curve per class (precision made non-increasing, ending at recall 1)."""
    set_up_PR_plot_axis(axis, data["eval_params"]["min_iou_to_match"], data["eval_params"]["matching_method"])
    for label in accept_classes:
        curve = data["AP"][label]["data"]
        pairs = sorted(zip(curve["recall"], curve["precision"]), key=lambda pair: pair[0])
        recalls = [0.] + [r for r, _ in pairs]
        precisions = [0.] + [p for _, p in pairs]
        recalls += recalls[-1:] + [1.]
        precisions += [0., 0.]
        for i in range(len(precisions) - 2, -1, -1):
            precisions[i] = np.maximum(precisions[i], precisions[i + 1])
        axis.plot(recalls, precisions, label=label, color=csToMplColor(label))


def fill_and_finalize_subplot(category, data_to_plot, accept_classes, axis, max_depth):
    """Draw one panel: ``PR``, ``AP`` (per depth) or a DDTP metric per depth."""
    if category == "PR":
        create_PR_plot(axis, data_to_plot, accept_classes)
    elif category == "AP":
        create_AP_plot(axis, data_to_plot, accept_classes, max_depth)
    elif category in DDTP_CATEGORIES:
        axis.set_title(category.replace("_", " ") + " (DDTP Metric)")
        if category == "Center_Dist":
            axis.set_ylim([0, 25])
            axis.set_ylabel("Distance [m]")
        else:
            axis.set_ylim([0., 1.01])
            axis.set_ylabel("Similarity")
        for label in accept_classes:
            entry = data_to_plot[category][label]
            x_vals, y_vals = get_x_y_vals(entry["data"])
            if category == "Center_Dist":  # back from the score to metres
                y_vals = [(1 - y) * max_depth for y in y_vals]
            fill_standard_subplot(axis, x_vals, y_vals, label, get_available_items_scaling(entry["items"]),
                                  max_depth)
    else:
        raise ArgumentError("Unsupported category, got {}.".format(category))


def fill_standard_subplot(axis, x_vals_unsorted, y_vals_unsorted, label, available_items_scaling, max_depth):
    """A class's line (and markers sized by ``available_items_scaling``), extended dashed to 0 and ``max_depth``."""
    pairs = sorted(zip(x_vals_unsorted, y_vals_unsorted), key=lambda pair: pair[0])
    x_vals, y_vals = [x for x, _ in pairs], [y for _, y in pairs]
    color = csToMplColor(label)
    if len(available_items_scaling) > 0:
        axis.scatter(x_vals, y_vals, s=available_items_scaling, color=color, marker="o", alpha=1.0)
    axis.plot(x_vals, y_vals, label=label, color=color)
    if x_vals:
        axis.plot([x_vals[-1], max_depth], [y_vals[-1], y_vals[-1]], label=label, color=color, linestyle="--",
                  alpha=0.6)
        axis.plot([0, x_vals[0]], [y_vals[0], y_vals[0]], label=label, color=color, linestyle="--", alpha=0.6)


def get_available_items_scaling(data, scale_fac=100):
    """Sample counts scaled so that the largest is ``scale_fac``."""
    counts = list(data.values())
    if not counts:
        return counts
    largest = max(counts)
    return [x / float(largest) * scale_fac for x in counts]


def get_x_y_vals(data):
    """Depths (float) and values of a ``{depth: value}`` dict."""
    return [float(x) for x in data], list(data.values())


def plot_data(data_to_plot, show=True, path=None):
    """Draw the figure of a results dict; save it to ``path`` (PNG, PDF, ...) and/or show it.

    Returns the matplotlib figure.
    """
    plt = _pyplot()
    missing = [k for k in CATEGORIES if k not in data_to_plot]
    if missing:
        raise ResultsError(f"results lack {', '.join(missing)}")
    max_depth = data_to_plot["eval_params"]["max_depth"]
    accept_classes = data_to_plot["eval_params"]["labels"]
    figure = plt.figure(figsize=(20, 12), dpi=100)
    ax_results, ax_spider, axes = create_all_axes(max_depth, 10)
    for axis, category in zip(axes, ["PR"] + CATEGORIES):
        fill_and_finalize_subplot(category, data_to_plot, accept_classes, axis, max_depth)
    create_spider_chart_plot(ax_spider, data_to_plot, CATEGORIES, accept_classes)
    create_result_table_and_legend_plot(ax_results, data_to_plot, axes[0].get_legend_handles_labels())
    plt.tight_layout()
    if path:
        save_figure(figure, path)
    if show:
        plt.show()
    return figure


def have_display():
    """Whether a shown figure can appear here (a headless ``plt.show()`` silently does nothing)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")


def prepare_data(json_path):
    """The parsed results file."""
    with open(json_path) as file_:
        return json.load(file_)


@cli.entry_point
def main(argv=None):
    """``csPlot3dDetectionResults RESULTS.json [-o OUT.png]``; returns the exit status."""
    parser = cli.parser("Plot the results.json of csEvalObjectDetection3d.")
    parser.add_argument("path", help="results .json file of the 3D evaluation (also as the evaluation server gives it)")
    parser.add_argument("-o", "--output", metavar="OUT.png", help="save the figure instead of showing it")
    cli.add_quiet_option(parser, "do not say where the figure was saved")
    args = parser.parse_args(argv)
    data = read_json(args.path, ResultsError)
    show = not args.output
    if show and not have_display():
        raise CityscapesError("no display to show the figure; save it with -o OUT.png")
    try:
        figure = plot_data(data, show=show, path=args.output)
    except (KeyError, TypeError) as e:
        raise ResultsError(f"not a 3D results file ({e!r})", args.path) from None
    _pyplot().close(figure)
    if args.output and not args.quiet:
        print(f"figure saved to {args.output}")
    return cli.OK


if __name__ == "__main__":
    sys.exit(main())
