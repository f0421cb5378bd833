"""The detectron2 evaluators (cityscapesscripts.integrations.detectron2) on a stand-in of detectron2
(tests/detectron2_standin.py): the numbers detectron2's own evaluators get from the original
(``fixtures/clients/expected.json``, replayed by ``client_replays``) and the original's result dicts
on the golden sets, from CPU tensors as detectron2 models give them.
"""
import glob
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import client_replays
import detectron2_standin
from cityscapesscripts.errors import ArgumentError, ImageError, PredictionError
from conftest import FIXTURES, GOLDEN, SETS, assert_same_numbers, expected_eval, import_error_without

with open(os.path.join(FIXTURES, "clients", "expected.json")) as f:
    CLIENTS = json.load(f)
ADAPTER = "cityscapesscripts.integrations.detectron2"


@pytest.fixture
def adapter(monkeypatch):
    """The adapter module, imported against the stand-in."""
    for name, module in detectron2_standin.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, ADAPTER, raising=False)
    return importlib.import_module(ADAPTER)


def _dataset(golden, thing_classes=client_replays.THING_CLASSES):
    """Register a golden set's val split as detectron2's Cityscapes loaders do: ``gt_dir`` and ``thing_classes``."""
    name = f"cityscapes_{os.path.basename(golden)}_val"
    sys.modules["detectron2.data"].MetadataCatalog.get(name).set(
        gt_dir=os.path.join(golden, "gtFine", "val"), thing_classes=list(thing_classes))
    return name


def frames(golden):
    """``[(camera image, frame)]`` of a golden set in the order detectron2's evaluators evaluate them: as
    ``glob`` lists the ground truth of ``gt_dir``.  The original sums iIoU's instance weights in image
    order, so another order can change the last bit of iIoU."""
    order = [os.path.basename(p)[:-len("_gtFine_labelIds.png")]
             for p in glob.glob(os.path.join(golden, "gtFine", "val", "*", "*_gtFine_labelIds.png"))]
    return sorted(client_replays.frames(golden), key=lambda pair: order.index(pair[1]))


def semantic_outputs(golden, device="cpu"):
    """``[(input, output)]``: each image's scores of the 19 train ids, highest at the golden prediction."""
    pairs = []
    for image, frame in frames(golden):
        train_ids = torch.from_numpy(client_replays.semantic_logits_argmax(golden, frame))
        scores = torch.zeros((19,) + tuple(train_ids.shape), dtype=torch.uint8)
        scores.scatter_(0, train_ids[None], 1)
        pairs.append(({"file_name": image}, {"sem_seg": scores.to(device)}))
    return pairs


def instance_outputs(golden, device="cpu"):
    """``[(input, output)]``: each image's predicted instances (no "instances" where it has none)."""
    instances_type = sys.modules["detectron2.structures"].Instances
    pairs = []
    for image, frame in frames(golden):
        outputs = client_replays.instance_outputs(golden, frame)
        output = {}
        if outputs:
            output["instances"] = instances_type(
                outputs[0][0].shape, pred_masks=torch.from_numpy(np.stack([m for m, _, _ in outputs])).to(device),
                pred_classes=torch.tensor([client_replays.THING_CLASSES.index(c) for _, c, _ in outputs]),
                scores=torch.tensor([s for _, _, s in outputs], dtype=torch.float64))
        pairs.append(({"file_name": image}, output))
    return pairs


def run(evaluator, pairs, batch=2):
    """What detectron2's ``inference_on_dataset`` does with an evaluator."""
    evaluator.reset()
    for start in range(0, len(pairs), batch):
        inputs, outputs = zip(*pairs[start:start + batch])
        evaluator.process(list(inputs), list(outputs))
    return evaluator.evaluate()


# evaluator, its outputs, the key of its results, its replay in client_replays
TASKS = {"semantic": ("CityscapesSemSegEvaluator", semantic_outputs, "sem_seg", "detectron2_semantic"),
         "instance": ("CityscapesInstanceEvaluator", instance_outputs, "segm", "detectron2_instance")}


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("replay_set", client_replays.SETS)
def test_evaluator_gives_detectron2s_numbers(adapter, replay_set, task, tensor_device):
    evaluator_type, outputs, key, replay = TASKS[task]
    golden = os.path.join(GOLDEN, replay_set)
    results = run(getattr(adapter, evaluator_type)(_dataset(golden)), outputs(golden, tensor_device))
    assert list(results) == [key]
    assert_same_numbers(CLIENTS[replay_set][replay], results[key])


@pytest.mark.parametrize("golden_set", SETS)
def test_instance_evaluator_keeps_the_original_result(adapter, golden_set, tensor_device):
    golden = os.path.join(GOLDEN, golden_set)
    evaluator = adapter.CityscapesInstanceEvaluator(_dataset(golden))
    run(evaluator, instance_outputs(golden, tensor_device))
    assert_same_numbers(expected_eval(golden_set, "instance"), client_replays.plain(evaluator.cityscapes_result))


def test_reset_forgets_the_images(adapter):
    golden = os.path.join(GOLDEN, "edge")
    evaluator = adapter.CityscapesSemSegEvaluator(_dataset(golden))
    first = run(evaluator, semantic_outputs(golden))
    assert run(evaluator, semantic_outputs(golden)) == first  # the second round alone, not both


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_gather_to_the_single_process_numbers(adapter, world_size):
    """Each rank processes its share (detectron2's inference sampler: contiguous parts); the ranks other
    than the main one return None, the main one the numbers of all images."""
    golden = os.path.join(GOLDEN, "small")
    comm = sys.modules["detectron2.utils.comm"]
    for evaluator_type, outputs, key, replay in TASKS.values():
        pairs = outputs(golden)
        evaluators = [getattr(adapter, evaluator_type)(_dataset(golden)) for _ in range(world_size)]
        shares = np.array_split(np.arange(len(pairs)), world_size)
        results = {}
        for rank in reversed(range(world_size)):  # the main process gathers last (detectron2_standin)
            with comm.as_rank(rank, world_size):
                results[rank] = run(evaluators[rank], [pairs[i] for i in shares[rank]])
        assert all(results[rank] is None for rank in range(1, world_size))
        assert_same_numbers(CLIENTS["small"][replay], results[0][key])


# ---- bad inputs ------------------------------------------------------------------------------
def test_class_index_outside_thing_classes_is_named(adapter):
    golden = os.path.join(GOLDEN, "edge")
    evaluator = adapter.CityscapesInstanceEvaluator(_dataset(golden))
    image, output = next(pair for pair in instance_outputs(golden) if pair[1])
    output["instances"].pred_classes = output["instances"].pred_classes + 8
    with pytest.raises(PredictionError, match=r"leftImg8bit.png: predicted class indices outside the 8 classes"):
        evaluator.process([image], [output])


def test_as_many_masks_as_scores_is_the_accumulators_check(adapter):
    golden = os.path.join(GOLDEN, "edge")
    evaluator = adapter.CityscapesInstanceEvaluator(_dataset(golden))
    image, output = next(pair for pair in instance_outputs(golden) if pair[1])
    instances = output["instances"]
    instances.scores = instances.scores[:-1]
    with pytest.raises(ValueError, match=f"{len(instances.pred_masks)} masks, {len(instances.pred_masks)} labels "
                                         f"and {len(instances.scores)} scores"):
        evaluator.process([image], [output])


def test_float_masks_are_the_accumulators_error(adapter, tensor_device):
    golden = os.path.join(GOLDEN, "edge")
    evaluator = adapter.CityscapesInstanceEvaluator(_dataset(golden))
    image, output = next(pair for pair in instance_outputs(golden, tensor_device) if pair[1])
    output["instances"].pred_masks = output["instances"].pred_masks.float()
    # the compiled path's PredictionError, the torch path's ImageError (issue 27 item 1): both name the image
    with pytest.raises((PredictionError, ImageError), match="mask must be bool or integer|masks must hold integers"):
        evaluator.process([image], [output])


def test_scores_of_another_size_are_named(adapter):
    golden = os.path.join(GOLDEN, "edge")
    evaluator = adapter.CityscapesSemSegEvaluator(_dataset(golden))
    image, output = semantic_outputs(golden)[0]
    with pytest.raises(ImageError, match="prediction is 255x128 but its ground truth is 256x128"):
        evaluator.process([image], [{"sem_seg": output["sem_seg"][:, :, :-1]}])


def test_thing_classes_that_are_no_cityscapes_labels_are_named(adapter):
    name = _dataset(os.path.join(GOLDEN, "edge"), ["car", "spaceship"])
    with pytest.raises(ArgumentError, match=r"has classes that are no label of cityscapes: \['spaceship'\]"):
        adapter.CityscapesInstanceEvaluator(name)


def test_dataset_without_gt_dir_is_named(adapter):
    with pytest.raises(ArgumentError, match="dataset 'unregistered' has no 'gt_dir'"):
        adapter.CityscapesSemSegEvaluator("unregistered")


def test_nothing_processed_is_an_error(adapter):
    evaluator = adapter.CityscapesSemSegEvaluator(_dataset(os.path.join(GOLDEN, "edge")))
    with pytest.raises(ArgumentError, match="no image was processed"):
        evaluator.evaluate()


def test_without_detectron2_the_import_says_what_to_install():
    message = import_error_without("detectron2", ADAPTER)
    assert "needs detectron2" in message and "not on the package index" in message


def test_importing_the_package_imports_no_framework():
    code = ("import sys, cityscapesscripts, cityscapesscripts.integrations, cityscapesscripts.evaluation.semantic, "
            "cityscapesscripts.evaluation.instance_ap\n"
            "print(sorted(m for m in ('torch', 'mmengine', 'detectron2', 'torchmetrics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
