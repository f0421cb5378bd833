"""Tensors in the accumulators: counted by torch where they lie (CPU tensors here, through the same torch
code an accelerator runs, and CUDA where there is one), giving the original's numbers on the golden sets,
the same counts as the compiled kernels, and the accumulators' clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cityscapesscripts.errors import ImageError, PredictionError
from cityscapesscripts.evaluation import tensors
from cityscapesscripts.evaluation.box3d import Box3dAccumulator, Boxes3d
from cityscapesscripts.evaluation.instance_ap import InstanceAccumulator
from cityscapesscripts.evaluation.panoptic import PanopticAccumulator, SegmentError
from cityscapesscripts.evaluation.semantic import SemanticAccumulator
from cityscapesscripts.helpers.labelset import CITYSCAPES

from conftest import GOLDEN, assert_same_numbers, expected_eval, plain
from golden_arrays import instance_frames, panoptic_frames, semantic_frames

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def torch_counting(monkeypatch):
    """CPU tensors counted by torch, as an accelerator's are (they go to the compiled kernels otherwise)."""
    monkeypatch.setattr(tensors, "COUNT_CPU_TENSORS_IN_TORCH", True)


def tensor(array, device, dtype=None):
    return torch.from_numpy(np.ascontiguousarray(array)).to(device=device, dtype=dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("instance_scores", [True, False])
def test_semantic_on_tensors_gives_the_originals_numbers(golden_set, device, instance_scores):
    acc = SemanticAccumulator(instance_scores=instance_scores)
    for frame, prediction, labels, instances in semantic_frames(os.path.join(GOLDEN, golden_set)):
        acc.add(tensor(prediction, device, torch.int64), tensor(labels, device),
                tensor(instances.astype(np.int32), device), name=frame)
    name = "pixel" if instance_scores else "pixel_no_instance_score"
    assert_same_numbers(expected_eval(golden_set, name), plain(acc.result()))


@pytest.mark.parametrize("device", DEVICES)
def test_train_id_tensors_give_the_same_numbers(device):
    by_ids, by_train_ids = SemanticAccumulator(), SemanticAccumulator(train_ids=True)
    for frame, prediction, labels, instances in semantic_frames(os.path.join(GOLDEN, "small")):
        train_ids = CITYSCAPES.id_to_train_id[prediction]
        by_ids.add(CITYSCAPES.train_id_to_id[train_ids], labels, instances, name=frame)
        by_train_ids.add(tensor(train_ids, device), tensor(labels, device), tensor(instances, device), name=frame)
    assert_same_numbers(plain(by_ids.result()), plain(by_train_ids.result()))


@pytest.mark.parametrize("device", DEVICES)
def test_instance_masks_as_one_tensor_give_the_originals_numbers(golden_set, device):
    acc = InstanceAccumulator()
    for frame, masks, labels, scores, ids in instance_frames(os.path.join(GOLDEN, golden_set)):
        acc.add(tensor(masks, device), torch.tensor(labels), torch.tensor(scores, dtype=torch.float64),
                tensor(ids.astype(np.int32), device), name=frame)
    assert_same_numbers(expected_eval(golden_set, "instance"), plain(acc.result()))


@pytest.mark.usefixtures("golden_panoptic_parts")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("as_ids", [False, True])
def test_panoptic_on_tensors_gives_the_originals_numbers(golden_set, device, as_ids):
    categories, frames = panoptic_frames(os.path.join(GOLDEN, golden_set))
    acc = PanopticAccumulator(categories)
    for frame, prediction, pred_segments, ground_truth, gt_segments in frames:
        if as_ids:  # (H, W) ids instead of colours
            prediction, ground_truth = (rgb.astype(np.int64) @ np.array([1, 256, 65536]) for rgb in
                                        (prediction, ground_truth))
        acc.add(tensor(prediction, device), pred_segments, tensor(ground_truth, device), gt_segments, name=frame)
    assert_same_numbers(expected_eval(golden_set, "panoptic"), plain(acc.result()))


def test_box3d_takes_tensors_that_require_grad():
    def boxes(convert):
        return Boxes3d(["car"], amodal=convert([[10, 10, 40, 20]]), centers=convert([[20, 1, 0]]),
                       dims=convert([[4, 2, 2]]), rotations=convert([[1, 0, 0, 0]]), scores=convert([0.7]))
    results = []
    for convert in (np.asarray, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)):
        acc = Box3dAccumulator(labels=["car"])
        acc.add(boxes(convert), boxes(convert))
        results.append(plain(acc.result()))
    assert results[0]["mAP"] == 1.0
    assert_same_numbers(results[0], results[1])


def random_scene(seed, height=48, width=80):
    """Label ids, instance ids (cars, people, a rider in 1000s, and a few ids below 1000), train-id
    predictions, and masks with their labels and scores."""
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 4, 7, 8, 11, 21, 24, 25, 26, 33], size=(height, width)).astype(np.uint8)
    instances = labels.astype(np.uint16)
    for label in (24, 25, 26):
        where = labels == label
        instances[where] = label * 1000 + rng.integers(0, 4, where.sum())
    train_ids = rng.choice([0, 1, 8, 11, 12, 13, 18, 255], size=labels.shape).astype(np.uint8)
    masks = rng.random((9, height, width)) < rng.random((9, 1, 1))
    masks[3] = False  # an empty mask
    mask_labels = rng.choice([24, 25, 26, 7], size=9).tolist()
    return labels, instances, train_ids, masks, mask_labels, rng.random(9).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_torch_counts_equal_the_compiled_kernels(seed):
    labels, instances, train_ids, masks, mask_labels, scores = random_scene(seed)
    on_arrays, on_tensors = SemanticAccumulator(train_ids=True), SemanticAccumulator(train_ids=True)
    on_arrays.add(train_ids, labels, instances)
    on_tensors.add(torch.from_numpy(train_ids), torch.from_numpy(labels), torch.from_numpy(instances.astype(np.int32)))
    assert np.array_equal(on_arrays.conf, on_tensors.conf)
    assert np.array_equal(on_arrays.instances, on_tensors.instances) and len(on_arrays.instances) > 3
    masks_arrays, masks_tensors = InstanceAccumulator(), InstanceAccumulator()
    masks_arrays.add(masks, mask_labels, scores, instances, name="frame")
    masks_tensors.add(list(torch.from_numpy(masks)), mask_labels, scores, torch.from_numpy(instances.astype(np.int64)),
                      name="frame")
    assert masks_arrays.matches == masks_tensors.matches


def test_cpu_tensors_go_to_the_compiled_kernels_unless_asked(monkeypatch):
    monkeypatch.setattr(tensors, "COUNT_CPU_TENSORS_IN_TORCH", False)
    monkeypatch.setattr(tensors, "semantic_counts", None)  # would fail if called
    acc = SemanticAccumulator(instance_scores=False)
    acc.add(torch.full((2, 3), 7), torch.full((2, 3), 7))
    assert acc.result()["classScores"]["road"] == 1.0
    assert not tensors.counted_in_torch(torch.zeros(1)) and tensors.counted_in_torch(torch.zeros(1, device="meta"))


@pytest.mark.parametrize("call, error, message", [
    (lambda: SemanticAccumulator(instance_scores=False).add(torch.zeros(4, 4), torch.zeros(4, 4, dtype=torch.uint8)),
     ImageError, "prediction must hold integers (or bools), got dtype float32"),
    (lambda: SemanticAccumulator(instance_scores=False).add(torch.zeros(4, 5, dtype=torch.uint8),
                                                            torch.zeros(4, 4, dtype=torch.uint8)),
     ImageError, "prediction is 5x4 but its ground truth is 4x4"),
    (lambda: SemanticAccumulator(instance_scores=False).add(torch.full((4, 4), 300), torch.zeros(4, 4).long()),
     ImageError, "prediction has ids outside the label set: [300]"),
    (lambda: SemanticAccumulator(instance_scores=False).add(torch.full((4, 4), 34), torch.zeros(4, 4).long()),
     ImageError, "prediction has ids outside the label set: [34]"),
    (lambda: SemanticAccumulator(train_ids=True, instance_scores=False).add(torch.full((4, 4), 19),
                                                                           torch.zeros(4, 4).long()),
     ImageError, "prediction has train ids outside the label set: [19]"),
    (lambda: SemanticAccumulator().add(torch.zeros(4, 4).long(), torch.zeros(4, 4).long(), torch.full((4, 4), -1)),
     ImageError, "instances has ids outside 0..65535: [-1]"),
    (lambda: SemanticAccumulator(instance_scores=False).add(torch.zeros(4, 4, dtype=torch.long, device="meta"),
                                                            torch.zeros(4, 4).long()),
     ImageError, "ground_truth is on cpu but prediction on meta"),
    (lambda: InstanceAccumulator().add(torch.zeros(2, 4, 4), [26, 26], [0.5, 0.6], torch.zeros(4, 4).long()),
     ImageError, "masks must hold integers (or bools), got dtype float32"),
    (lambda: InstanceAccumulator().add(torch.zeros(2, 4, 5, dtype=torch.bool), [26, 26], [0.5, 0.6],
                                       torch.zeros(4, 4).long()),
     PredictionError, "masks must be (N, H, W) with the ground truth's (H, W) (4, 4), got (2, 4, 5)"),
    (lambda: InstanceAccumulator().add(torch.zeros(1, 4, 4, dtype=torch.bool), [26], [0.5],
                                       torch.full((4, 4), 99000)),
     ImageError, "ground_truth has ids outside 0..65535: [99000]"),
    (lambda: InstanceAccumulator().add(torch.zeros(1, 4, 4, dtype=torch.bool), [99], [0.5], torch.zeros(4, 4).long()),
     PredictionError, "label id 99 is not in the label set"),
    (lambda: PanopticAccumulator({}).add(torch.full((4, 4), 5), [], torch.zeros(4, 4).long(), []),
     SegmentError, "segment with ID 5 is presented in PNG and not presented in JSON"),
    (lambda: PanopticAccumulator({}).add(torch.zeros(4, 4, 2).long(), [], torch.zeros(4, 4).long(), []),
     PredictionError, "pred_ids must be (H, W, 3) colours or (H, W) ids, got shape (4, 4, 2)"),
])
def test_bad_tensors_get_the_accumulators_errors(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_float_masks_are_refused_as_arrays_too():
    with pytest.raises(PredictionError, match="a mask must be bool or integer .*got dtype float64"):
        InstanceAccumulator().add([np.ones((4, 4))], [26], [0.5], np.zeros((4, 4), np.uint16), name="f")


def test_importing_the_evaluation_never_imports_torch():
    code = ("import sys, cityscapesscripts.evaluation.semantic, cityscapesscripts.evaluation.instance_ap, "
            "cityscapesscripts.evaluation.panoptic, cityscapesscripts.evaluation.tensors; "
            "print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
