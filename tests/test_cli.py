"""One command-line convention across the console scripts (cityscapesscripts/cli.py).

Every tool takes ``-q/--quiet``; batch tools ``-j/--jobs``; ``--split`` repeats or takes a comma
list; evaluators write ``--json OUT`` and keep the original's option names as aliases.  Bad input
is one ``ERROR:`` line and exit status 1, a command line that does not parse exit status 2, and
an exception that is not ours (a bug) keeps its traceback.
"""
import argparse
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from cityscapesscripts import cli
from cityscapesscripts.errors import ArgumentError, CityscapesError, FileAccessError
from conftest import GOLDEN, console_scripts

SMALL = os.path.join(GOLDEN, "small")
SCRIPTS = console_scripts()
BATCH_TOOLS = ["csCreateTrainIdLabelImgs", "csCreateTrainIdInstanceImgs", "csCreatePanopticImgs",
               "csEvalPixelLevelSemanticLabeling", "csEvalInstanceLevelSemanticLabeling",
               "csEvalPanopticSemanticLabeling", "csEvalObjectDetection3d", "csConvert", "csStats", "csSampleDataset",
               "csDemo"]
SPLIT_TOOLS = BATCH_TOOLS[:-1]  # the demo makes its own sample
JSON_TOOLS = ["csEvalPixelLevelSemanticLabeling", "csEvalInstanceLevelSemanticLabeling",
              "csEvalPanopticSemanticLabeling", "csEvalObjectDetection3d"]


def script(name):
    module, function = SCRIPTS[name].split(":")
    return getattr(importlib.import_module(module), function)


def help_text(name, capsys):
    with pytest.raises(SystemExit) as stop:
        script(name)(["--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_every_console_script_is_known_here():
    assert set(SCRIPTS) == set(BATCH_TOOLS) | {"csDownload", "csViewer", "csLabelTool", "csPlot3dDetectionResults"}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_tool_takes_quiet(name, capsys):
    assert "-q, --quiet" in help_text(name, capsys)


@pytest.mark.parametrize("name", BATCH_TOOLS)
def test_every_batch_tool_takes_jobs(name, capsys):
    assert "-j N, --jobs N" in help_text(name, capsys)


@pytest.mark.parametrize("name", SPLIT_TOOLS)
def test_split_is_the_same_option_everywhere(name, capsys):
    text = " ".join(help_text(name, capsys).split())
    assert "--split NAME" in text
    default = "(default: all)" if "TrainId" in name or name == "csStats" else \
        "(default: val,train,test)" if name == "csCreatePanopticImgs" else "(default: val)"
    assert default in text


LABEL_TOOLS = ["csCreateTrainIdLabelImgs", "csCreateTrainIdInstanceImgs", "csCreatePanopticImgs",
               "csEvalPixelLevelSemanticLabeling", "csEvalInstanceLevelSemanticLabeling", "csConvert", "csViewer",
               "csLabelTool", "csStats"]


@pytest.mark.parametrize("name", LABEL_TOOLS)
def test_tools_with_a_label_set_take_labels(name, capsys):
    assert "--labels FILE" in help_text(name, capsys)


def test_label_tool_edits_with_the_labels_given(tmp_path, monkeypatch):
    from cityscapesscripts.web import labeltool, server
    (tmp_path / "label_colors.txt").write_text("0 0 0 background\n255 0 0 cat\n")
    used = {}
    monkeypatch.setattr(labeltool, "make_router", lambda root, label_set=None: used.setdefault("set", label_set))
    monkeypatch.setattr(server, "run", lambda router, opts: cli.OK)
    assert script("csLabelTool")([SMALL, "--no-browser", "--labels", str(tmp_path / "label_colors.txt")]) == 0
    assert [label.name for label in used["set"].labels] == ["background", "cat"]


@pytest.mark.parametrize("name", JSON_TOOLS)
def test_every_evaluator_writes_json(name, capsys):
    assert "--json OUT" in help_text(name, capsys)


# the option strings of the original 2.3.0 console scripts' argparse definitions, copied from its sources
ORIGINAL_OPTIONS = {
    "csCreatePanopticImgs": ["--dataset-folder", "--output-folder", "--use-train-id", "--set-names"],
    "csEvalPanopticSemanticLabeling": ["--gt-json-file", "--gt-folder", "--prediction-json-file",
                                       "--prediction-folder", "--results_file"],
    "csEvalObjectDetection3d": ["-gt", "--gt-folder", "-pred", "--prediction-folder", "--results-folder", "--labels",
                                "--min-iou", "--max-depth", "--step-size", "--cw", "--modal", "--noplot"],
    "csDownload": ["-l", "--list_available", "-d", "--destination_path", "-r", "--resume"],
}


@pytest.mark.parametrize("name", sorted(ORIGINAL_OPTIONS))
def test_the_originals_options_are_all_still_there(name, capsys):
    words = set(help_text(name, capsys).replace(",", " ").replace("[", " ").replace("]", " ").split())
    assert set(ORIGINAL_OPTIONS[name]) <= words


def test_split_repeats_and_takes_comma_lists():
    parser = cli.parser("test")
    cli.add_split_option(parser, "val", "--set-names")
    for argv in (["--split", "train", "--split", "val"], ["--split", "train,val"], ["--set-names", "train", "val"],
                 ["--split", "train", "--set-names", "val"]):
        assert cli.splits_of(parser.parse_args(argv)) == ["train", "val"], argv
    assert cli.splits_of(parser.parse_args([])) == ["val"]
    assert cli.splits_of(parser.parse_args(["--split", "all"])) is None


def test_all_splits_are_the_split_folders_not_the_panoptic_sets(tmp_path):
    for folder in ("train", "val", "cityscapes_panoptic_val"):
        (tmp_path / "gtFine" / folder).mkdir(parents=True)
    parser = cli.parser("test")
    cli.add_split_option(parser, None)
    assert cli.splits_of(parser.parse_args([]), str(tmp_path)) == ["train", "val"]


def test_a_tool_of_one_split_refuses_several():
    parser = cli.parser("test")
    cli.add_split_option(parser, one=True)
    with pytest.raises(ArgumentError, match="one split"):
        cli.splits_of(parser.parse_args(["--split", "val,test"]))


def test_pixel_evaluation_of_two_splits_scores_both(tmp_path, monkeypatch):
    """``--split val --split train``: the ground truth of both splits (here the same frames, twice)."""
    root = tmp_path / "cityscapes"
    shutil.copytree(os.path.join(SMALL, "gtFine", "val"), root / "gtFine" / "val")
    shutil.copytree(os.path.join(SMALL, "gtFine", "val"), root / "gtFine" / "train")
    pixel = script("csEvalPixelLevelSemanticLabeling")
    monkeypatch.setenv("CITYSCAPES_DATASET", str(root))
    for argv, out in ((["--split", "val"], "one.json"), (["--split", "val", "--split", "train"], "two.json")):
        assert pixel(argv + ["--pred", os.path.join(SMALL, "results", "semantic"), "--json", out, "-q"]) == 0
    with open("one.json") as f, open("two.json") as g:
        one, two = json.load(f), json.load(g)
    # every pixel counted twice: the same IoU, twice the confusion counts
    assert two["averageScoreClasses"] == one["averageScoreClasses"]
    assert two["confMatrix"] == [[2 * v for v in row] for row in one["confMatrix"]]


def test_panoptic_json_and_the_originals_results_file_are_the_same_option():
    panoptic = script("csEvalPanopticSemanticLabeling")
    common = ["--gt-json-file", os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json"),
              "--prediction-json-file", os.path.join(SMALL, "results", "panoptic", "cityscapes_panoptic_val.json"),
              "-q", "-j", "1"]
    for option, out in (("--json", "a.json"), ("--results-file", "b.json"), ("--results_file", "c.json")):
        assert panoptic(common + [option, out]) == 0
    with open("a.json") as a, open("b.json") as b, open("c.json") as c:
        assert a.read() == b.read() == c.read()


def test_3d_json_is_the_results_file(tmp_path):
    root = os.path.join(GOLDEN, "box3d")
    status = script("csEvalObjectDetection3d")(["--gt", os.path.join(root, "gtBbox3d", "val"), "--pred",
                                                os.path.join(root, "results", "predBbox3d"), "--results-folder",
                                                "OUT", "--noplot", "-q", "-j", "1", "--json", "copy.json"])
    assert status == 0
    with open("copy.json") as a, open(os.path.join("OUT", "results.json")) as b:
        assert a.read() == b.read()


def _bad_inputs(tmp_path):
    """One bad input per tool: its arguments and a part of the one error line expected."""
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    not_results = tmp_path / "results.json"
    not_results.write_text('{"mAP": 1}')
    return {
        "csCreateTrainIdLabelImgs": (["--dataset", str(tmp_path / "missing")], "dataset folder does not exist"),
        "csCreateTrainIdInstanceImgs": (["--dataset", SMALL, "--outputs", "bogus"], "unknown output 'bogus'"),
        "csCreatePanopticImgs": (["--dataset-folder", str(empty)], "did not find any files for the val set"),
        "csEvalPixelLevelSemanticLabeling": (["--gt", str(empty)], "no ground truth found"),
        "csEvalInstanceLevelSemanticLabeling": (["a_gt.png", "b_gt.png", "c_pred.txt", "d.txt"],
                                                "1 prediction files but 2 ground-truth images"),
        "csEvalPanopticSemanticLabeling": (["--gt-json-file", str(tmp_path / "gt.json")],
                                           "Could not find a ground truth json file"),
        "csEvalObjectDetection3d": (["--gt", str(empty), "--pred", str(empty), "--min-iou", "2"],
                                    "--min-iou must be in [0, 1)"),
        "csPlot3dDetectionResults": ([str(not_results), "-o", "x.png"], "results lack"),
        "csConvert": (["--from", "voc", "--to", "coco-instances", str(empty), str(tmp_path / "out")],
                      "a VOC set converts to 'cityscapes' only"),
        "csSampleDataset": ([str(a_file / "sample"), "--predictions", "--frames", "1", "--size", "64x32"],
                            "cannot create the folder"),
        "csStats": ([str(tmp_path / "missing")], "dataset folder does not exist"),
        "csDemo": ([str(a_file), "--frames", "1", "--size", "64x32", "-j", "1"], "cannot create the folder"),
        "csDownload": (["-d", str(tmp_path / "missing"), "gtFine_trainvaltest.zip"], "does not exist"),
        "csViewer": ([str(tmp_path / "missing"), "--no-browser"], "dataset folder does not exist"),
        "csLabelTool": ([str(tmp_path / "missing"), "--no-browser"], "dataset folder does not exist"),
    }


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_bad_input_is_one_error_line_and_status_1(name, tmp_path, capsys):
    argv, message = _bad_inputs(tmp_path)[name]
    capsys.readouterr()
    status = script(name)(argv)
    err = capsys.readouterr().err.splitlines()
    assert status == cli.FAILED
    assert len(err) == 1 and err[0].startswith("ERROR: ") and message in err[0], err


def test_bad_option_values_are_our_errors(tmp_path, capsys):
    status = script("csEvalPixelLevelSemanticLabeling")(["--gt", SMALL, "--max-pixels", "0"])
    assert status == cli.FAILED
    assert capsys.readouterr().err == "ERROR: the pixel limit must be positive, got 0\n"


def test_a_command_line_that_does_not_parse_is_usage_and_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        script("csConvert")(["in", "out"])
    err = capsys.readouterr().err.splitlines()
    assert stop.value.code == cli.USAGE
    assert err[0].startswith("usage: ") and err[-1] == "ERROR: the following arguments are required: --to"


def _injected(*args, **kwargs):
    raise ValueError("injected bug")


BUG_SITES = {
    "csCreateTrainIdLabelImgs": ("cityscapesscripts.preparation.prepare", "prepare_dataset", ["--dataset", SMALL]),
    "csCreatePanopticImgs": ("cityscapesscripts.preparation.createPanopticImgs", "convert2panoptic",
                             ["--dataset-folder", os.path.join(SMALL, "gtFine")]),
    "csEvalPixelLevelSemanticLabeling": ("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling",
                                         "evaluateImgLists", ["--gt", SMALL, "--pred",
                                                              os.path.join(SMALL, "results", "semantic")]),
    "csEvalPanopticSemanticLabeling": ("cityscapesscripts.evaluation.evalPanopticSemanticLabeling",
                                       "evaluatePanoptic",
                                       ["--gt-json-file", os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json"),
                                        "--prediction-json-file",
                                        os.path.join(SMALL, "results", "panoptic", "cityscapes_panoptic_val.json")]),
    "csConvert": ("cityscapesscripts.dataset.convert", "_convert_split", ["--to", "voc", SMALL, "out"]),
    "csSampleDataset": ("cityscapesscripts.sample", "generate", ["out"]),
}


@pytest.mark.parametrize("name", sorted(BUG_SITES))
def test_an_internal_error_keeps_its_traceback(name, monkeypatch):
    module, function, argv = BUG_SITES[name]
    monkeypatch.setattr(importlib.import_module(module), function, _injected)
    with pytest.raises(ValueError, match="injected bug"):
        script(name)(argv)


def test_our_errors_keep_the_builtin_types_callers_caught():
    assert issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, CityscapesError)
    assert issubclass(FileAccessError, OSError) and issubclass(FileAccessError, CityscapesError)
    error = FileAccessError.of(PermissionError(13, "Permission denied", "/x/y.png"))
    assert str(error) == "/x/y.png: cannot write: Permission denied"


def test_an_entry_point_takes_sigterm_in_the_main_thread_only_and_gives_it_back():
    import signal
    import threading
    handlers = {}

    @cli.entry_point
    def main():
        handlers[threading.current_thread().name] = signal.getsignal(signal.SIGTERM)
        return cli.OK

    before = signal.getsignal(signal.SIGTERM)
    assert main() == cli.OK
    other = threading.Thread(target=main, name="other")
    other.start()
    other.join()
    assert handlers["MainThread"] is not before and callable(handlers["MainThread"])
    assert handlers["other"] is before and signal.getsignal(signal.SIGTERM) is before


# ---- the first hour: options with help, hints that name real options, no silent traps ----------------------------

class _Parsed(Exception):
    """Raised in place of parsing: carries the parser a tool built."""


def parser_of(name, monkeypatch):
    def capture(parser, *args, **kwargs):
        raise _Parsed(parser)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    with pytest.raises(_Parsed) as parsed:
        script(name)(["--help"])
    return parsed.value.args[0]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_option_of_every_tool_has_a_help_text(name, monkeypatch):
    parser = parser_of(name, monkeypatch)
    bare = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
            if not (a.help or "").strip() or a.help == argparse.SUPPRESS]
    assert not bare, f"{name}: no help for {bare}"


NO_DATASET_RUNS = {
    "csCreateTrainIdLabelImgs": [], "csCreateTrainIdInstanceImgs": [], "csCreatePanopticImgs": [],
    "csEvalPixelLevelSemanticLabeling": [], "csEvalInstanceLevelSemanticLabeling": [],
    "csEvalPanopticSemanticLabeling": [], "csEvalObjectDetection3d": ["--noplot"],
    "csViewer": ["--no-browser"], "csLabelTool": ["--no-browser"],
}


@pytest.mark.parametrize("name", sorted(NO_DATASET_RUNS))
def test_without_a_dataset_a_tool_says_so_and_names_an_option_it_takes(name, tmp_path, monkeypatch, capsys):
    """No argument and no CITYSCAPES_DATASET: an error naming the variable and options the tool accepts, even
    where the current folder holds a dataset (it is never searched unasked)."""
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    monkeypatch.delenv("CITYSCAPES_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine")
    shutil.copytree(os.path.join(SMALL, "results"), tmp_path / "results")
    help_words = set(help_text(name, capsys).replace(",", " ").replace("[", " ").replace("]", " ").split())
    assert script(name)(NO_DATASET_RUNS[name]) == cli.FAILED
    err = capsys.readouterr().err
    assert err.startswith("ERROR: no ") and "given: pass " in err and "CITYSCAPES_DATASET" in err, err
    named = re.findall(r"(-\S+|ROOT)\b", err.split("given: pass ")[1])
    assert named and set(named) <= help_words, (named, err)


def _sample(root, splits=("val",)):
    from cityscapesscripts import sample
    for split in splits:
        sample.generate(str(root), 1, 64, 32, split=split, progress=False)
    return str(root)


@pytest.mark.parametrize("name, argv", [
    ("csCreateTrainIdLabelImgs", ["--split", "val,tain"]),
    ("csCreateTrainIdInstanceImgs", ["--split", "tain"]),
    ("csCreatePanopticImgs", ["--split", "val", "--split", "tain"]),
    ("csEvalPixelLevelSemanticLabeling", ["--split", "val,tain", "--pred", "."]),
    ("csEvalInstanceLevelSemanticLabeling", ["--split", "tain", "--pred", "."]),
    ("csEvalPanopticSemanticLabeling", ["--split", "tain"]),
    ("csEvalObjectDetection3d", ["--split", "tain", "--noplot"]),
])
def test_an_unknown_split_name_is_an_error_listing_the_known_ones(name, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CITYSCAPES_DATASET", _sample(tmp_path / "data"))
    assert script(name)(argv) == cli.FAILED
    err = capsys.readouterr().err
    assert err.startswith("ERROR: unknown split 'tain'; known splits: train, val, test"), err


def test_absent_default_splits_are_skipped_with_a_note_and_an_asked_one_is_an_error(tmp_path, monkeypatch, capsys):
    """csCreatePanopticImgs (default val, train, test) on csSampleDataset's output, which has only val."""
    monkeypatch.setenv("CITYSCAPES_DATASET", _sample(tmp_path / "data"))
    panoptic = script("csCreatePanopticImgs")
    assert panoptic(["-q"]) == cli.OK
    assert os.path.isfile(tmp_path / "data" / "gtFine" / "cityscapes_panoptic_val.json")
    assert panoptic([]) == cli.OK
    assert "note: no train, test split in " in capsys.readouterr().err
    for name, argv in (("csCreatePanopticImgs", ["--set-names", "val", "train"]),
                       ("csCreateTrainIdLabelImgs", ["--split", "test"]),
                       ("csEvalPixelLevelSemanticLabeling", ["--split", "train", "--pred", "."])):
        assert script(name)(argv) == cli.FAILED
        err = capsys.readouterr().err
        assert re.match(r"ERROR: no (train|test) split in .*\(it has: val\)", err), (name, err)


def _train_id_predictions(folder, void=255):
    """The golden label-id predictions of the small set, as train ids (void: ``void``), as a network writes them."""
    import numpy as np
    from PIL import Image

    from cityscapesscripts.helpers.labelset import CITYSCAPES
    os.makedirs(folder)
    source = os.path.join(SMALL, "results", "semantic")
    for name in os.listdir(source):
        train_ids = CITYSCAPES.id_to_train_id[np.asarray(Image.open(os.path.join(source, name)))]
        Image.fromarray(np.where(train_ids == 255, void, train_ids).astype(np.uint8)).save(os.path.join(folder, name))
    return folder


def test_train_id_predictions_scored_as_label_ids_warn_and_name_train_ids(tmp_path, capsys):
    pixel = script("csEvalPixelLevelSemanticLabeling")
    gt = os.path.join(SMALL, "gtFine", "val")
    assert pixel(["--gt", gt, "--pred", os.path.join(SMALL, "results", "semantic"), "-q", "-j", "1"]) == cli.OK
    assert "WARNING" not in capsys.readouterr().err  # label ids: nothing to say
    no_void = _train_id_predictions(str(tmp_path / "no_void"), void=0)
    assert pixel(["--gt", gt, "--pred", no_void, "-q", "-j", "1", "--json", "as_label_ids.json"]) == cli.OK
    err = capsys.readouterr().err
    assert err.startswith("WARNING: ") and "--train-ids" in err
    assert pixel(["--gt", gt, "--pred", no_void, "-q", "-j", "1", "--train-ids", "--json", "as_train_ids.json"]) == 0
    assert "WARNING" not in capsys.readouterr().err
    with open("as_label_ids.json") as a, open("as_train_ids.json") as b:
        as_label_ids, as_train_ids = json.load(a), json.load(b)
    # the warning changes no number: the original's reading (label ids) stays the default
    assert as_label_ids["averageScoreClasses"] < 0.05 < as_train_ids["averageScoreClasses"]
    with_void = _train_id_predictions(str(tmp_path / "with_void"))
    assert pixel(["--gt", gt, "--pred", with_void, "-q", "-j", "1"]) == cli.FAILED
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("ERROR: ") and "[255]" in line and "--train-ids" in line for line in err)


@pytest.mark.parametrize("name, argv", [
    ("csEvalPixelLevelSemanticLabeling", ["--gt", SMALL, "--pred", os.path.join(SMALL, "results", "semantic")]),
    ("csEvalInstanceLevelSemanticLabeling", ["--gt", SMALL, "--pred", os.path.join(SMALL, "results", "instance"),
                                             "--gt-cache", "cache.json"]),
    ("csEvalPanopticSemanticLabeling",
     ["--gt-json-file", os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json"), "--prediction-json-file",
      os.path.join(SMALL, "results", "panoptic", "cityscapes_panoptic_val.json")]),
])
@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_a_results_file_that_cannot_be_written_loses_no_score(name, argv, quiet, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    target = str(tmp_path / "a_file" / "results.json")
    assert script(name)(argv + quiet + ["-j", "1", "--json", target]) == cli.FAILED
    out, err = capsys.readouterr()
    assert re.search(r"(IoU classes|AP|PQ) \d\.\d{4}|Score Average|average|All ", out), out
    assert err.startswith("ERROR: " + str(tmp_path / "a_file")), err


def test_an_empty_ground_truth_is_an_error_in_every_evaluator(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with open(os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json")) as f:
        no_images = dict(json.load(f), annotations=[])
    (tmp_path / "gt.json").write_text(json.dumps(no_images))
    runs = {
        "csEvalPixelLevelSemanticLabeling": (["--gt", str(empty), "--pred", str(empty)], "no ground truth found"),
        "csEvalInstanceLevelSemanticLabeling": (["--gt", str(empty), "--pred", str(empty)], "no ground truth found"),
        "csEvalPanopticSemanticLabeling": (["--gt-json-file", str(tmp_path / "gt.json"), "--gt-folder", str(empty),
                                            "--prediction-json-file", os.path.join(SMALL, "results", "panoptic",
                                                                                   "cityscapes_panoptic_val.json")],
                                           "the ground truth has no image"),
        "csEvalObjectDetection3d": (["-gt", str(empty), "-pred", str(empty), "--noplot", "-q"],
                                    "no ground-truth *.json files"),
    }
    for name, (argv, message) in runs.items():
        assert script(name)(argv) == cli.FAILED, name
        err = capsys.readouterr().err
        assert err.startswith("ERROR: ") and message in err, (name, err)


def test_install_hints_install_for_this_package():
    """``pip install 'cityscapesscripts[plot]'`` would fetch the original 2.3.0 from PyPI: hints name the
    packages themselves."""
    from cityscapesscripts import parallel, plotting
    assert plotting.MISSING_MATPLOTLIB.endswith("pip install matplotlib")
    assert parallel.DASK_MISSING.endswith('pip install "dask[distributed]"')
    package = os.path.dirname(cli.__file__)
    for folder, _, names in os.walk(package):
        for name in names:
            if name.endswith((".py", ".pyx", ".html", ".js")):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    assert "cityscapesscripts[" not in f.read(), name


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_source_checkout_without_the_extension_says_what_runs_and_the_ways_out(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(os.path.dirname(cli.__file__), checkout / "cityscapesscripts",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    shutil.copy(os.path.join(ROOT, "setup.py"), checkout / "setup.py")
    # -S: no site-packages, whose editable-install finder would lend the checkout copy the built extension
    run = subprocess.run([sys.executable, "-S", "-W", "always::RuntimeWarning", "-c",
                          "import cityscapesscripts.kernels as k; print(k.__file__, k.HAVE_EXTENSION)"],
                         cwd=checkout, capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == [str(checkout / "cityscapesscripts" / "kernels.py"), "False"]
    warning = " ".join(run.stderr.split())
    assert f"running the source checkout in {checkout}" in warning
    assert "run from another folder" in warning and "pip install -e ." in warning
    assert "pip install Cython setuptools, then python setup.py build_ext --inplace" in warning


def test_setup_py_without_cython_says_what_to_install():
    hide_cython = ("import sys; sys.modules['Cython'] = sys.modules['Cython.Build'] = None; "
                   "sys.argv = ['setup.py', '--name']; exec(compile(open('setup.py').read(), 'setup.py', 'exec'))")
    run = subprocess.run([sys.executable, "-c", hide_cython], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().endswith("pip install Cython setuptools (pip install . installs it by itself)")


def test_the_demo_removes_its_temporary_folder_or_keeps_the_one_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    demo = script("csDemo")
    assert demo(["--frames", "1", "--size", "64x32", "-j", "1"]) == cli.OK
    out = capsys.readouterr().out
    assert out.startswith(f"Working in {tmp_path / 'tmp'}") and "removed at the end; --keep DIR" in out.splitlines()[0]
    assert "csEvalPanopticSemanticLabeling: PQ" in out
    assert os.listdir(tmp_path / "tmp") == []
    assert demo(["--keep", str(tmp_path / "kept"), "--frames", "1", "--size", "64x32", "-j", "1"]) == cli.OK
    assert capsys.readouterr().out.startswith(f"Writing to {tmp_path / 'kept'} (kept)")
    assert os.path.isfile(tmp_path / "kept" / "gtFine" / "cityscapes_panoptic_val.json") or \
        os.path.isdir(tmp_path / "kept" / "panoptic")


@pytest.mark.parametrize("module_name, predictions", [("evalPixelLevelSemanticLabeling", "semantic"),
                                                      ("evalInstanceLevelSemanticLabeling", "instance")])
def test_the_evaluators_command_lines_leave_their_modules_args_as_they_were(module_name, predictions, tmp_path,
                                                                            capsys):
    """The command lines work on a copy of the module's args: a later call from Python meets the settings
    the user left there, not the last command line's (issue 26)."""
    module = importlib.import_module("cityscapesscripts.evaluation." + module_name)
    before = dict(vars(module.args))
    assert module.main(["--gt", os.path.join(SMALL, "gtFine", "val"), "--pred",
                        os.path.join(SMALL, "results", predictions), "-j", "1", "-q",
                        "--json", str(tmp_path / "result.json")]) == 0
    assert "0." in capsys.readouterr().out  # the summary line
    after = vars(module.args)
    assert after.keys() == before.keys() and all(after[name] is value for name, value in before.items())
