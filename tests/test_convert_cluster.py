"""The new csConvert sources and targets on a Dask cluster (a LocalCluster of 2 processes): the same files
and the same error lines as a local run."""
import os
import sys

import cloudpickle
import pytest

from cityscapesscripts.dataset import convert
from fixture_trees import convert_all, write_tiny_tree

distributed = pytest.importorskip("distributed", reason="the test extra installs dask[distributed]")
UDA = os.path.join(os.path.dirname(__file__), "fixtures", "uda")
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _files(root):
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, names in os.walk(root) for f in names}


def test_new_conversions_on_the_cluster_equal_the_local_run(tmp_path, capsys):
    write_tiny_tree(str(tmp_path / "tiny"))
    assert convert_all(str(tmp_path / "tiny"), str(tmp_path / "exports")) == [0] * 5
    runs = [(["--from", "synthia", "--to", "cityscapes", os.path.join(UDA, "synthia")], [], 1),
            (["--from", "gta5", "--to", "cityscapes", os.path.join(UDA, "gta5")], ["--save-images"], 1),
            (["--from", "coco-panoptic", "--to", "cityscapes", str(tmp_path / "exports" / "panoptic")], [], 0),
            (["--from", "camvid", "--to", "cityscapes", str(tmp_path / "exports" / "camvid")], [], 0),
            (["--to", "camvid", str(tmp_path / "tiny")], ["--save-images"], 0)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        for number, (before, after, status) in enumerate(runs):
            errors = {}
            for name, extra in (("dask", ["--scheduler", cluster.scheduler_address]), ("local", ["-j", "2"])):
                out = str(tmp_path / f"{name}{number}")
                assert convert.main(before + [out] + after + extra + ["-q"]) == status, before
                errors[name] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
            assert errors["dask"] == errors["local"]
            assert len(errors["dask"]) == status
            assert _files(tmp_path / f"dask{number}") == _files(tmp_path / f"local{number}")
