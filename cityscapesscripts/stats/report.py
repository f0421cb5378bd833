"""``csStats``' printed table and its CSV, as functions of the result dict."""
from __future__ import annotations

import csv
import io
from typing import Any

from ..io.jsonfile import write_text
from .weights import SCHEMES

_SHORT = {"inverse_frequency": "inv.freq", "median_frequency": "med.freq", "enet": "ENet", "inverse_sqrt": "inv.sqrt"}


def class_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per class of the result: index, name, pixels, ratio, images, instances, polygons,
    vertices and the weight of each scheme (empty for a class no weight is computed for)."""
    weights = result["weights"]
    weight_of = {name: i for i, name in enumerate(weights["classes"])}
    rows = []
    for name, entry in result["classes"].items():
        row = {"id": entry["train_id"] if result["train_ids"] else entry["id"], "name": name,
               "pixels": entry["pixels"], "pixel_ratio": entry["pixel_ratio"], "images": entry["images"],
               "instances": entry["instances"], "crowd_pixels": entry["crowd_pixels"],
               "polygons": entry["polygons"], "vertices": entry["vertices"]}
        k = weight_of.get(name)
        for scheme in SCHEMES:
            row[scheme] = "" if k is None else weights[scheme][k]
        rows.append(row)
    return rows


def format_table(result: dict[str, Any]) -> str:
    """The per-class table ``csStats`` prints, then a line per split."""
    index = "trainId" if result["train_ids"] else "id"
    header = (f"{index:>7} {'class':<21} {'pixels':>13} {'%':>7} {'images':>7} {'instances':>9} {'polygons':>8}  "
              + " ".join(f"{_SHORT[s]:>8}" for s in SCHEMES))
    lines = [header, "-" * len(header)]
    for row in class_rows(result):
        weights = " ".join(f"{row[s]:>8.3f}" if row[s] != "" else f"{'':>8}" for s in SCHEMES)
        lines.append(f"{row['id']:>7} {row['name'][:21]:<21} {row['pixels']:>13,} {100 * row['pixel_ratio']:>7.3f} "
                     f"{row['images']:>7} {row['instances']:>9} {row['polygons']:>8}  {weights}")
    lines.append("")
    for split, entry in result["splits"].items():
        line = f"{split}: {entry['images']} images in {len(entry['cities'])} cities"
        if "image_mean" in entry:
            mean = ", ".join(f"{v:.2f}" for v in entry["image_mean"])
            std = ", ".join(f"{v:.2f}" for v in entry["image_std"])
            line += f"; image mean (RGB) {mean}, std {std}"
        lines.append(line)
    lines.append(f"{result['images']} images, {len(result['findings'])} findings")
    return "\n".join(lines)


def write_csv(path: str, result: dict[str, Any]) -> None:
    """The per-class rows of :func:`class_rows` as CSV (one header line), written atomically."""
    rows = class_rows(result)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["id", "name"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())
