"""The original evaluators' printed tables, as functions of their results and explicit options.

The compat modules' ``print*`` functions read these options from their
``args`` and call here.  ``style`` is a :class:`TableStyle`: whether scores
are coloured, and the bold and reset codes around a table's heading.
"""
from dataclasses import dataclass

import numpy as np

from ..helpers.csHelpers import colors, getColorEntry
from . import semantic


@dataclass(frozen=True)
class TableStyle:
    """How a table is printed: ``colorized`` scores (by value), ``bold`` and ``nocol`` codes."""
    colorized: bool = False
    bold: str = ""
    nocol: str = ""

    @classmethod
    def of(cls, colorized: bool) -> "TableStyle":
        """The style of a coloured or a plain table."""
        return cls(colorized, colors.BOLD if colorized else "", colors.ENDC if colorized else "")


# ---- pixel-level semantic labeling ------------------------------------------------------------
def _rule(eval_ids, print_row):
    return "\b" + " ".rjust(15, "-") + " " + " ".join("\b" + " ".rjust(print_row + 2, "-")
                                                      for _ in eval_ids) + " \b" + " ".rjust(print_row + 3, "-")


def _matrix_value(conf, i, j, normalized):
    if normalized:
        row = conf[i].sum()
        return float("nan") if row == 0 else float(conf[i][j]) / row
    return conf[i][j]


def print_confusion_matrix(conf, eval_ids, label_set, style: TableStyle, print_row=5, normalized=True) -> None:
    """The confusion matrix (rows normalised when ``normalized``) with the prior of each class."""
    conf = np.asarray(conf)
    id2label = label_set.id2label
    print(_rule(eval_ids, print_row))
    header = "\b" + "".rjust(13) + " | " + " ".join("\b" + id2label[i].name[0].center(print_row) + " |"
                                                      for i in eval_ids)
    print(header + " \b" + "Prior".rjust(6) + " |")
    print(_rule(eval_ids, print_row))
    for x in eval_ids:
        p = semantic.prior(conf, x)
        if p < 1e-9:
            continue
        cells = []
        for y in eval_ids:
            v = _matrix_value(conf, x, y, normalized)
            cells.append(getColorEntry(v, style) + "\b" + f"{v:>{print_row}.2f}  " + style.nocol)
        print("\b" + id2label[x].name[:13].rjust(13) + " | " + " ".join(cells) + " "
              + getColorEntry(p, style) + "\b" + f"{p:>6.4f} " + style.nocol)
    print(_rule(eval_ids, print_row), end=" ")


def print_class_scores(scores, inst_scores, eval_ids, label_set, style: TableStyle) -> None:
    """IoU and iIoU of each evaluated class (of the class subset, if scored)."""
    print(style.bold + "classes          IoU      nIoU" + style.nocol)
    print("--------------------------------")
    for i in eval_ids:
        label = label_set.id2label[i]
        if label.ignoreInEval or label.name not in scores:  # not in the class subset
            continue
        name = label.name
        print(f"{name:<14}: " + getColorEntry(scores[name], style) + f"{scores[name]:>5.3f}" + style.nocol
              + "    " + getColorEntry(inst_scores[name], style) + f"{inst_scores[name]:>5.3f}" + style.nocol)


def print_category_scores(scores, inst_scores, label_set, style: TableStyle) -> None:
    """IoU and iIoU of each category with an evaluated class."""
    print(style.bold + "categories       IoU      nIoU" + style.nocol)
    print("--------------------------------")
    for category in scores:
        if all(label.ignoreInEval for label in label_set.category2labels[category]):
            continue
        print(f"{category:<14}: " + getColorEntry(scores[category], style) + f"{scores[category]:>5.3f}"
              + style.nocol + "    " + getColorEntry(inst_scores[category], style)
              + f"{inst_scores[category]:>5.3f}" + style.nocol)


def print_average(iou, niou, style: TableStyle) -> None:
    """The mean IoU and iIoU line under a table."""
    print("--------------------------------")
    print("Score Average : " + getColorEntry(iou, style) + f"{iou:5.3f}" + style.nocol
          + "    " + getColorEntry(niou, style) + f"{niou:5.3f}" + style.nocol)
    print("--------------------------------")
    print("")


# ---- instance-level semantic labeling ---------------------------------------------------------
def print_ap_table(averages, inst_labels, style: TableStyle, distance_available=False, csv=False) -> None:
    """The AP table of an instance result's ``averages`` (comma-separated with ``csv``)."""
    sep = "," if csv else ""
    col1 = ":" if not csv else ""
    columns = [("AP", "ap", "allAp"), ("AP_50%", "ap50%", "allAp50%")]
    if distance_available:
        columns += [("AP_50m", "ap50m", "allAp50m"), ("AP_100m", "ap100m", "allAp100m"),
                    ("AP_50%50m", "ap50%50m", "allAp50%50m")]
    width = 50 + (40 if distance_available else 0)
    print("")
    if not csv:
        print("#" * width)
    print(style.bold + f"{'what':<15}" + sep + col1 + "".join(f"{title:>15}" + sep for title, _, _ in columns)
          + style.nocol)
    if not csv:
        print("#" * width)

    def row(name, values):
        return (f"{name:<15}" + sep + col1
                + "".join(getColorEntry(v, style) + sep + f"{v:>15.3f}" + sep for v in values) + style.nocol)

    for name in inst_labels:
        print(row(name, [averages["classes"][name][key] for _, key, _ in columns]))
    if not csv:
        print("-" * width)
    print(row("average", [averages[key] for _, _, key in columns]))
    print("")


# ---- panoptic ---------------------------------------------------------------------------------
def print_pq_table(results, categories) -> None:
    """PQ, SQ and RQ per category, then of all, things and stuff."""
    print(f"{'Category':14s}| {'PQ':>5s}  {'SQ':>5s}  {'RQ':>5s}")
    for label in sorted(results["per_class"]):
        r = results["per_class"][label]
        print(f"{categories[label]['name']:14s}| {100 * r['pq']:5.1f}  {100 * r['sq']:5.1f}  {100 * r['rq']:5.1f}")
    print("-" * 41)
    print(f"{'':14s}| {'PQ':>5s}  {'SQ':>5s}  {'RQ':>5s} {'N':>5s}")
    for name in ("All", "Things", "Stuff"):
        r = results[name]
        print(f"{name:14s}| {100 * r['pq']:5.1f}  {100 * r['sq']:5.1f}  {100 * r['rq']:5.1f} {r['n']:5d}")


# ---- 3D object detection ---------------------------------------------------------------------
def log_box3d_table(results, logger) -> None:
    """The 3D benchmark's results table of a ``results.json`` dict, to ``logger`` (a category without ground
    truth is a warning)."""
    gt_stats = results["GT_stats"]
    for label, count in gt_stats.items():
        if count == 0:
            logger.warning("Category {} has no GT!".format(label))
    method = results["eval_params"]["matching_method"]
    logger.info("========================")
    logger.info("======= Results ========")
    logger.info("========================")
    for label in gt_stats:
        value = {metric: results[metric][label]["auc"] * 100 for metric in
                 ("AP", "Center_Dist", "OS_Yaw", "OS_Pitch_Roll", "Size_Similarity")}
        logger.info(label)
        logger.info(" -> 2D AP {:<6}                : {:8.4f}".format(method, value["AP"]))
        logger.info(" -> BEV Center Distance (DDTP)  : {:8.4f}".format(value["Center_Dist"]))
        logger.info(" -> Yaw Similarity (DDTP)       : {:8.4f}".format(value["OS_Yaw"]))
        logger.info(" -> Pitch/Roll Similarity (DDTP): {:8.4f}".format(value["OS_Pitch_Roll"]))
        logger.info(" -> Size Similarity (DDTP)      : {:8.4f}".format(value["Size_Similarity"]))
        logger.info(" -> Detection Score             : {:8.4f}".format(results["Detection_Score"][label] * 100))
    logger.info("Mean Detection Score: {:8.4f}".format(results["mDetection_Score"] * 100))
