"""Every batch tool on a Dask cluster (a LocalCluster of 2 processes stands in): the same outputs,
scores and error lists as a local run; a killed worker changes nothing."""
import glob
import json
import os
import shutil
import sys
import threading

import cloudpickle
import pytest

from conftest import GOLDEN, assert_same_numbers, assert_same_png, golden_files
from cityscapesscripts import parallel
from cityscapesscripts.dataset import convert as cs_convert
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as panoptic_eval
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pixel_eval
from cityscapesscripts.evaluation import semantic_files
from cityscapesscripts.preparation import createPanopticImgs, createTrainIdLabelImgs

distributed = pytest.importorskip("distributed", reason="the test extra installs dask[distributed]")
SMALL = os.path.join(GOLDEN, "small")
# the helpers below run on the workers, which cannot import the tests folder
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


def _json(path):
    """The results file as written, bytes and all, after checking it holds results."""
    data = path.read_bytes()
    assert json.loads(data)
    return data


def _pixel(argv, tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert pixel_eval.main(["--gt", os.path.join(SMALL, "gtFine"), "--pred", os.path.join(SMALL, "results", "semantic"),
                            "--json", str(out), "--quiet"] + argv) == 0
    return _json(out)


def test_pixel_evaluation_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    assert _pixel(["--scheduler", cluster.scheduler_address], tmp_path, "dask") == _pixel(["-j", "2"], tmp_path, "local")


def test_instance_evaluation_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    def run(argv, name):
        out = tmp_path / f"{name}.json"
        assert instance_eval.main(["--gt", os.path.join(SMALL, "gtFine"), "--pred",
                                   os.path.join(SMALL, "results", "instance"), "--json", str(out), "--quiet"]
                                  + argv) == 0
        return _json(out)
    assert run(["--scheduler", cluster.scheduler_address], "dask") == run(["-j", "2"], "local")


def test_panoptic_evaluation_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    def run(argv, name):
        out = tmp_path / f"{name}.json"
        assert panoptic_eval.main(["--gt-json-file", os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json"),
                                   "--prediction-json-file",
                                   os.path.join(SMALL, "results", "panoptic", "cityscapes_panoptic_val.json"),
                                   "--results-file", str(out), "--quiet"] + argv) == 0
        return _json(out)
    assert run(["--scheduler", cluster.scheduler_address], "dask") == run(["-j", "2"], "local")


def test_preparation_on_the_cluster_writes_the_originals_images(cluster, polygons_only):
    assert createTrainIdLabelImgs.main(["--dataset", str(polygons_only), "--outputs",
                                        "labelTrainIds,instanceTrainIds", "-q",
                                        "--scheduler", cluster.scheduler_address]) == 0
    expected = sorted(glob.glob(os.path.join(GOLDEN, "small", "expected", "prepared", "gtFine", "*", "*", "*.png")))
    assert expected
    for path in expected:
        assert_same_png(path, os.path.join(polygons_only, os.path.relpath(
            path, os.path.join(GOLDEN, "small", "expected", "prepared"))))


@pytest.fixture
def polygons_only(tmp_path):
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine",
                    ignore=shutil.ignore_patterns("*.png", "cityscapes_panoptic*"))
    return tmp_path


def test_panoptic_conversion_on_the_cluster_writes_the_originals_files(cluster, tmp_path):
    assert createPanopticImgs.main(["--dataset-folder", os.path.join(SMALL, "gtFine"), "--output-folder",
                                    str(tmp_path), "--set-names", "val", "-q",
                                    "--scheduler", cluster.scheduler_address]) == 0
    expected = os.path.join(SMALL, "expected", "panoptic")
    with open(os.path.join(expected, "cityscapes_panoptic_val.json"), "rb") as f:
        assert (tmp_path / "cityscapes_panoptic_val.json").read_bytes() == f.read()
    pngs = sorted(glob.glob(os.path.join(expected, "cityscapes_panoptic_val", "*.png")))
    assert pngs
    for path in pngs:
        assert_same_png(path, tmp_path / "cityscapes_panoptic_val" / os.path.basename(path))


def test_coco_conversion_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    for name, extra in (("dask", ["--scheduler", cluster.scheduler_address]), ("local", ["-j", "2"])):
        assert cs_convert.main(["--to", "coco-instances", SMALL, str(tmp_path / name)] + extra) == 0
    dask_files = sorted(p.name for p in (tmp_path / "dask").iterdir())
    assert dask_files and dask_files == sorted(p.name for p in (tmp_path / "local").iterdir())
    for name in dask_files:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_3d_evaluation_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    from cityscapesscripts.evaluation import evalObjectDetection3d
    box3d = os.path.join(GOLDEN, "box3d")
    for name, extra in (("dask", ["--scheduler", cluster.scheduler_address]), ("local", ["-j", "2"])):
        assert evalObjectDetection3d.main(["-gt", os.path.join(box3d, "gtBbox3d", "val"), "-pred",
                                           os.path.join(box3d, "results", "predBbox3d"), "--results-folder",
                                           str(tmp_path / name), "--noplot", "-q"] + extra) == 0
    assert _json(tmp_path / "dask" / "results.json") == _json(tmp_path / "local" / "results.json")


def test_a_bad_file_gives_the_same_error_list_as_locally(cluster, tmp_path, capsys):
    predictions = tmp_path / "pred"
    shutil.copytree(os.path.join(SMALL, "results", "semantic"), predictions)
    broken = sorted(predictions.iterdir())[2]
    broken.write_bytes(b"not a png")

    def errors(argv):
        status = pixel_eval.main(["--gt", os.path.join(SMALL, "gtFine"), "--pred", str(predictions), "--quiet"] + argv)
        return status, [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    local = errors(["-j", "2"])
    assert local[0] == 1 and len(local[1]) == 1 and str(broken) in local[1][0]
    assert errors(["--scheduler", cluster.scheduler_address]) == local


class _KillWorkerOnce:
    """Runs a chunk as the executor does, but the first chunk to arrive kills its worker process."""

    def __init__(self, marker):
        self.marker = marker

    def __call__(self, func, chunk):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return [parallel._run_one(func, name, item) for name, item in chunk]
        os.close(fd)
        os._exit(1)


def test_a_worker_killed_mid_run_is_restarted_and_the_result_is_identical(client, tmp_path, monkeypatch):
    gts = golden_files(SMALL, "*_gtFine_labelIds.png")
    preds = [os.path.join(SMALL, "results", "semantic", os.path.basename(g).replace("_gtFine_labelIds", "_pred"))
             for g in gts]
    expected = semantic_files.evaluate_files(preds, gts, jobs=1, progress=False).result()
    monkeypatch.setattr(parallel, "_run_chunk", _KillWorkerOnce(str(tmp_path / "killed")))
    got = semantic_files.evaluate_files(preds, gts, progress=False, client=client).result()
    assert os.path.exists(tmp_path / "killed")  # a worker did die
    assert_same_numbers(expected, got)


def _checkpoint_folders(tmp_path, count=3):
    """Copies of the golden predictions, folder k with its first k images half painted over as road."""
    from PIL import Image
    folders = []
    for k in range(count):
        folder = tmp_path / f"run{k}"
        shutil.copytree(os.path.join(SMALL, "results", "semantic"), folder)
        for path in sorted(folder.iterdir())[:k]:
            img = Image.open(path)
            img.paste(7, (0, 0, img.width // 2, img.height // 2))
            img.save(path)
        folders.append(folder)
    return folders


def test_the_sweep_scores_every_prediction_set_as_separate_runs_do(client, tmp_path):
    gts = golden_files(SMALL, "*_gtFine_labelIds.png")
    folders = [[str(folder / os.path.basename(g).replace("_gtFine_labelIds", "_pred")) for g in gts]
               for folder in _checkpoint_folders(tmp_path)]
    separate = [semantic_files.evaluate_files(p, gts, jobs=1, progress=False).result() for p in folders]
    assert separate[0]["averageScoreClasses"] != separate[2]["averageScoreClasses"]
    for run in (dict(jobs=2), dict(client=client)):
        swept = [t.result() for t in semantic_files.evaluate_sweep(folders, gts, progress=False, **run)]
        for expected, got in zip(separate, swept):
            assert_same_numbers(expected, got)


def test_the_sweep_from_the_command_line_writes_one_result_per_folder(cluster, tmp_path, capsys):
    folders = [str(f) for f in _checkpoint_folders(tmp_path)]
    gt = os.path.join(SMALL, "gtFine")
    for k, folder in enumerate(folders):
        assert pixel_eval.main(["--gt", gt, "--pred", folder, "--json", str(tmp_path / f"{k}.json"), "--quiet"]) == 0
    capsys.readouterr()
    assert pixel_eval.main(["--gt", gt, "--pred", str(tmp_path / "run*"), "--json", str(tmp_path / "sweep.json"),
                            "--quiet", "--scheduler", cluster.scheduler_address]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == folders
    swept = json.loads((tmp_path / "sweep.json").read_text())
    assert list(swept) == folders
    for k, folder in enumerate(folders):
        assert_same_numbers(json.loads((tmp_path / f"{k}.json").read_text()), swept[folder])


def test_the_instance_sweep_writes_one_result_per_folder(cluster, tmp_path, capsys):
    folders = []
    for k in range(2):  # the golden predictions, then the same with every second detection dropped
        folder = tmp_path / f"run{k}"
        shutil.copytree(os.path.join(SMALL, "results", "instance"), folder)
        if k:
            for txt in folder.glob("*.txt"):
                txt.write_text("".join(txt.read_text().splitlines(keepends=True)[::2]))
        folders.append(str(folder))
    gt = os.path.join(SMALL, "gtFine")
    for k, folder in enumerate(folders):
        assert instance_eval.main(["--gt", gt, "--pred", folder, "--json", str(tmp_path / f"{k}.json"), "--quiet"]) == 0
    separate = [json.loads((tmp_path / f"{k}.json").read_text()) for k in range(2)]
    assert separate[0]["averages"]["allAp"] != separate[1]["averages"]["allAp"]
    capsys.readouterr()
    assert instance_eval.main(["--gt", gt, "--pred", *folders, "--json", str(tmp_path / "sweep.json"), "--quiet",
                               "--scheduler", cluster.scheduler_address]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == folders
    swept = json.loads((tmp_path / "sweep.json").read_text())
    assert list(swept) == folders
    for expected, folder in zip(separate, folders):
        assert_same_numbers(expected, swept[folder])


def test_the_panoptic_sweep_writes_one_result_per_prediction_json(cluster, tmp_path, capsys):
    source = os.path.join(SMALL, "results", "panoptic", "cityscapes_panoptic_val")
    predictions = []
    for k in range(2):  # the golden predictions, then the same with every segment of the first image relabelled
        shutil.copytree(source, tmp_path / f"run{k}")
        with open(source + ".json") as f:
            data = json.load(f)
        if k:
            for segment in data["annotations"][0]["segments_info"]:
                segment["category_id"] = 7
        (tmp_path / f"run{k}.json").write_text(json.dumps(data))
        predictions.append(str(tmp_path / f"run{k}.json"))
    gt = os.path.join(SMALL, "gtFine", "cityscapes_panoptic_val.json")
    for k, prediction in enumerate(predictions):
        assert panoptic_eval.main(["--gt-json-file", gt, "--prediction-json-file", prediction, "--results-file",
                                   str(tmp_path / f"{k}.out.json"), "--quiet"]) == 0
    separate = [json.loads((tmp_path / f"{k}.out.json").read_text()) for k in range(2)]
    assert separate[0]["All"]["pq"] != separate[1]["All"]["pq"]
    capsys.readouterr()
    assert panoptic_eval.main(["--gt-json-file", gt, "--prediction-json-file", *predictions, "--results-file",
                               str(tmp_path / "sweep.json"), "--quiet", "--scheduler", cluster.scheduler_address]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == predictions
    swept = json.loads((tmp_path / "sweep.json").read_text())
    assert sorted(swept) == predictions
    for expected, prediction in zip(separate, predictions):
        assert_same_numbers(expected, swept[prediction])


def _square(x):
    return x * x


def test_submission_is_a_few_windowed_tasks_per_worker_not_one_future_per_item(client, monkeypatch):
    # a Dask task costs the client and scheduler milliseconds: a map is sent as about four chunks a worker
    most = []
    submit = parallel._DaskBackend.submit

    def counting(self, fn, *args):
        future = submit(self, fn, *args)
        most.append(sum(not f.done() for f in self._running))
        return future
    monkeypatch.setattr(parallel._DaskBackend, "submit", counting)
    assert list(parallel.map_items(_square, range(400), progress=False, client=client)) == [x * x for x in range(400)]
    threads = sum(client.nthreads().values())
    assert 2 * threads < len(most) <= 4 * threads and max(most) <= 2 * threads  # never the whole batch in flight


def _doubled_or_unpicklable(item):
    return threading.Lock() if item == 7 else 2 * item


def test_only_the_item_that_does_not_pickle_or_its_result_is_an_error(client):
    items = list(range(40))  # several items a task
    items[30] = threading.Lock()
    results = list(parallel.map_items(_doubled_or_unpicklable, items, progress=False, client=client))
    assert [i for i, r in enumerate(results) if isinstance(r, parallel.ItemError)] == [7, 30]
    assert all(results[i] == 2 * i for i in range(40) if i not in (7, 30))
    assert all("lock" in results[i].reason for i in (7, 30))


def test_without_dask_the_option_says_what_to_install(monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(SystemExit):
        pixel_eval.main(["--gt", os.path.join(SMALL, "gtFine"), "--scheduler", "local"])
    assert 'pip install "dask[distributed]"' in capsys.readouterr().err


def _shape_of_label_map(path):
    from cityscapesscripts.io import png
    return png.read_label_map(path).shape


def test_a_dask_worker_reads_with_the_runs_pixel_limit_as_a_local_worker_does(client, tmp_path, monkeypatch):
    from cityscapesscripts.io import limits
    monkeypatch.delenv(limits.VARIABLE, raising=False)
    path = str(tmp_path / "a.png")
    shutil.copy(golden_files(SMALL, "*_gtFine_labelIds.png")[0], path)
    height, width = _shape_of_label_map(path)
    for where in (dict(jobs=2), dict(client=client)):
        refused, = parallel.map_items(_shape_of_label_map, [path], parallel.Run(max_pixels=width * height - 1, **where),
                                      progress=False)
        assert isinstance(refused, parallel.ItemError), where
        assert f"is more than {width * height - 1} pixels" in refused.reason
        assert list(parallel.map_items(_shape_of_label_map, [path], parallel.Run(max_pixels=width * height, **where),
                                       progress=False)) == [(height, width)]
    assert client.run(lambda: os.environ.get(limits.VARIABLE)) == dict.fromkeys(client.nthreads())


def test_max_pixels_reaches_the_cluster_from_the_command_line(cluster, capsys, monkeypatch):
    from cityscapesscripts.io import limits
    monkeypatch.delenv(limits.VARIABLE, raising=False)
    status = pixel_eval.main(["--gt", os.path.join(SMALL, "gtFine"), "--pred", os.path.join(SMALL, "results", "semantic"),
                              "--quiet", "--max-pixels", "1000", "--scheduler", cluster.scheduler_address])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert status == 1 and errors and all("is more than 1000 pixels" in line for line in errors)
