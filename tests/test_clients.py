"""The published Cityscapes code of detectron2, mmsegmentation, mmdetection and panoptic-deeplab, replayed.

``client_replays`` follows each client's calls; the expected numbers are what
the original 2.3.0 package returns for the same replays
(``fixtures/clients/expected.json``, recorded by ``fixtures/make_original_fixtures.py``).
"""
import json
import os

import pytest

import client_replays
from conftest import FIXTURES, GOLDEN, assert_same_numbers, assert_same_png, expected_eval

with open(os.path.join(FIXTURES, "clients", "expected.json")) as f:
    EXPECTED = json.load(f)


@pytest.fixture(params=client_replays.SETS)
def replay_set(request):
    return request.param


@pytest.mark.usefixtures("golden_panoptic_parts")
@pytest.mark.parametrize("client", sorted(client_replays.REPLAYS))
def test_client_gets_the_original_numbers(client, replay_set, tmp_path):
    result = client_replays.plain(client_replays.REPLAYS[client](os.path.join(GOLDEN, replay_set), str(tmp_path)))
    expected = EXPECTED[replay_set][client]
    if client == "mmseg_metric":  # per-image pixel counts differ on purpose (see the next test)
        result, expected = result["metric"], expected["metric"]
    assert_same_numbers(expected, result)


def test_instance_clients_equal_the_golden_evaluation(replay_set, tmp_path):
    """Their files carry the golden predictions unchanged, so their AP is the golden one."""
    golden = os.path.join(GOLDEN, replay_set)
    averages = expected_eval(replay_set, "instance")["averages"]
    d2 = client_replays.replay_detectron2_instance(golden, str(tmp_path / "d2"))
    mmdet = client_replays.replay_mmdet_metric(golden, str(tmp_path / "mmdet"))
    assert d2 == {"AP": averages["allAp"] * 100, "AP50": averages["allAp50%"] * 100}
    assert mmdet == {"mAP": averages["allAp"], "AP@50": averages["allAp50%"]}


def test_mmseg_per_image_counts_as_the_original_when_asked(replay_set, tmp_path):
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as CSEval
    CSEval.args.evalPixelAccuracyOriginal = True
    result = client_replays.replay_mmseg_metric(os.path.join(GOLDEN, replay_set), str(tmp_path))
    assert result["perImageScores"] == EXPECTED[replay_set]["mmseg_metric"]["perImageScores"]


def test_mmseg_per_image_counts_by_default_are_evaluated_and_correct_pixels(tmp_path):
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as CSEval
    result = client_replays.replay_mmseg_metric(os.path.join(GOLDEN, "small"), str(tmp_path))
    assert not getattr(CSEval.args, "evalPixelAccuracyOriginal", False)
    total = 512 * 256
    for name, counts in result["perImageScores"].items():
        original = EXPECTED["small"]["mmseg_metric"]["perImageScores"][name]
        # the original stores the ignored pixels as "not ignored": the two counts add up to the image
        assert counts["nbNotIgnoredPixels"] + original["nbNotIgnoredPixels"] == total
        assert 0 < counts["nbCorrectPixels"] <= counts["nbNotIgnoredPixels"]


def test_mmseg_converter_writes_the_golden_train_ids(tmp_path):
    golden = os.path.join(GOLDEN, "small")
    written = client_replays.replay_mmseg_converter(golden, str(tmp_path))
    assert written
    for name, path in written.items():
        city = name.split("_")[0]
        assert_same_png(os.path.join(golden, "expected", "prepared", "gtFine", "val", city, name), path)
