"""The torchmetrics adapters: the original's numbers on the golden sets, batches on any device, train ids
in and out, and ranks synchronised by torchmetrics itself (two CPU processes over gloo)."""
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing

from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.integrations.torchmetrics import CityscapesInstance, CityscapesPanoptic, CityscapesSemantic

from conftest import GOLDEN, assert_same_numbers, expected_eval, plain
from golden_arrays import instance_frames, panoptic_frames, semantic_frames

SCORES = ("classScores", "classInstScores", "categoryScores", "categoryInstScores", "averageScoreClasses",
          "averageScoreInstClasses", "averageScoreCategories", "averageScoreInstCategories")


def batch(*arrays):
    """One image's arrays as a batch of one tensor each."""
    return [torch.from_numpy(np.ascontiguousarray(a)).unsqueeze(0) for a in arrays]


def update_semantic(metric, frames, train_ids=False):
    for _, prediction, labels, instances in frames:
        if train_ids:
            prediction, labels = CITYSCAPES.id_to_train_id[prediction], CITYSCAPES.id_to_train_id[labels]
            instances = np.where(instances >= 1000, CITYSCAPES.id_to_train_id[instances // 1000].astype(np.int64)
                                 * 1000 + instances % 1000, CITYSCAPES.id_to_train_id[np.minimum(instances, 255)])
        metric.update(*batch(prediction, labels, instances.astype(np.int32)))


def update_instance(metric, frames):
    for _, masks, labels, scores, ids in frames:
        metric.update([{"masks": torch.from_numpy(masks), "labels": torch.tensor(labels),
                        "scores": torch.tensor(scores, dtype=torch.float64)}], batch(ids.astype(np.int32))[0])


def update_panoptic(metric, frames):
    for _, prediction, pred_segments, ground_truth, gt_segments in frames:
        metric.update([(torch.from_numpy(prediction), pred_segments)], [(torch.from_numpy(ground_truth), gt_segments)])


def test_semantic_gives_the_originals_numbers(golden_set):
    metric = CityscapesSemantic(preds_train_ids=False)
    update_semantic(metric, semantic_frames(os.path.join(GOLDEN, golden_set)))
    assert_same_numbers(expected_eval(golden_set, "pixel"), plain(metric.compute()))


def test_semantic_of_train_ids_gives_the_same_scores(golden_set):
    """Train-id predictions and train-id ground truth (what training uses) give every score the same."""
    metric = CityscapesSemantic(preds_train_ids=True, target_train_ids=True)
    frames = semantic_frames(os.path.join(GOLDEN, golden_set))
    update_semantic(metric, frames, train_ids=True)
    on_label_ids = CityscapesSemantic(preds_train_ids=False)  # the same predictions, as label ids
    for _, prediction, labels, instances in frames:
        on_label_ids.update(*batch(CITYSCAPES.train_id_to_id[CITYSCAPES.id_to_train_id[prediction]], labels,
                                   instances.astype(np.int32)))
    result, expected = plain(metric.compute()), plain(on_label_ids.compute())
    assert_same_numbers({k: expected[k] for k in SCORES}, {k: result[k] for k in SCORES})


def test_semantic_takes_scores_and_argmaxes_them():
    labels = torch.tensor([[[7, 7], [26, 26]]])
    scores = torch.zeros(1, 19, 2, 2)
    scores[0, 0, 0] = 1.0   # road (train id 0) on top
    scores[0, 13, 1] = 1.0  # car (train id 13) below
    metric = CityscapesSemantic(instance_scores=False)
    metric.update(scores, labels)
    result = metric.compute()
    assert result["classScores"]["road"] == 1.0 and result["classScores"]["car"] == 1.0


def test_instance_gives_the_originals_numbers(golden_set):
    metric = CityscapesInstance()
    update_instance(metric, instance_frames(os.path.join(GOLDEN, golden_set)))
    assert_same_numbers(expected_eval(golden_set, "instance"), plain(metric.compute()))


def test_instance_of_train_id_labels_and_targets():
    frames = instance_frames(os.path.join(GOLDEN, "small"))
    metric = CityscapesInstance(train_id_labels=True, target_train_ids=True)
    for _, masks, labels, scores, ids in frames:
        train_labels = CITYSCAPES.id_to_train_id[np.array(labels, np.int64)]
        keep = train_labels != 255  # masks of classes without a train id are never evaluated
        masks, train_labels, scores = masks[keep], train_labels[keep], np.array(scores)[keep]
        train_ids = np.where(ids >= 1000, CITYSCAPES.id_to_train_id[ids // 1000].astype(np.int64) * 1000 + ids % 1000,
                             CITYSCAPES.id_to_train_id[np.minimum(ids, 255)])
        metric.update([{"masks": torch.from_numpy(masks), "labels": torch.from_numpy(train_labels),
                        "scores": torch.tensor(scores, dtype=torch.float64)}], [torch.from_numpy(train_ids)])
    expected = expected_eval("small", "instance")
    assert_same_numbers(expected["averages"], plain(metric.compute())["averages"])


@pytest.mark.usefixtures("golden_panoptic_parts")
def test_panoptic_gives_the_originals_numbers(golden_set):
    categories, frames = panoptic_frames(os.path.join(GOLDEN, golden_set))
    metric = CityscapesPanoptic(categories)
    update_panoptic(metric, frames)
    assert_same_numbers(expected_eval(golden_set, "panoptic"), plain(metric.compute()))


def test_panoptic_default_categories_are_the_evaluated_classes():
    categories, _ = panoptic_frames(os.path.join(GOLDEN, "small"))
    assert CityscapesPanoptic().settings["categories"] == categories


@pytest.mark.parametrize("call, message", [
    (lambda: CityscapesSemantic().update(torch.zeros(1, 2, 2).long(), torch.zeros(1, 2, 3).long(),
                                         torch.zeros(1, 2, 3).long()), "preds must be (B, H, W) like target"),
    (lambda: CityscapesSemantic().update(torch.full((1, 2, 2), 19), torch.zeros(1, 2, 2).long(),
                                         torch.zeros(1, 2, 2).long()), "train ids outside the label set: [19]"),
    (lambda: CityscapesSemantic().update(torch.zeros(1, 2, 2).long(), torch.zeros(1, 2, 2).long()),
     "instance scores need the instance map"),
    (lambda: CityscapesInstance().update([{"masks": torch.zeros(1, 2, 2, dtype=torch.bool), "labels": [26]}],
                                         [torch.zeros(2, 2).long()]), "prediction 0 lacks ['scores']"),
    (lambda: CityscapesInstance(train_id_labels=True).update(
        [{"masks": torch.zeros(1, 2, 2, dtype=torch.bool), "labels": torch.tensor([40]), "scores": [0.5]}],
        [torch.zeros(2, 2).long()]), "prediction 0 labels has values that are no train ids: [40]"),
    (lambda: CityscapesInstance().update([], [torch.zeros(2, 2).long()]), "0 predictions but 1 targets"),
])
def test_bad_updates_are_named(call, message):
    with pytest.raises(Exception) as raised:
        call()
    assert message in str(raised.value)


# ---- two ranks (DDP over gloo) ----------------------------------------------------------------
def _rank(rank, world_size, port, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        out = {}
        for name, metric, frames, update in _metrics():
            share = frames[rank * len(frames) // world_size:(rank + 1) * len(frames) // world_size]
            if name == "instance" and rank == 1:
                share = []  # a rank without images: it still takes part in the sync
            elif name == "instance":
                share = frames
            update(metric, share)
            out[name] = plain(metric.compute())
        results.put((rank, out))
    finally:
        torch.distributed.destroy_process_group()


def _metrics():
    from cityscapesscripts.evaluation import panoptic
    panoptic._original_parts = lambda: 2  # the golden machine's parts (conftest's golden_panoptic_parts)
    root = os.path.join(GOLDEN, "small")
    categories, frames = panoptic_frames(root)
    return [("pixel", CityscapesSemantic(preds_train_ids=False), semantic_frames(root), update_semantic),
            ("instance", CityscapesInstance(), instance_frames(root), update_instance),
            ("panoptic", CityscapesPanoptic(categories), frames, update_panoptic)]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_synchronise_to_the_originals_numbers():
    context = torch.multiprocessing.get_context("spawn")
    results = context.Queue()
    port = _free_port()
    processes = [context.Process(target=_rank, args=(rank, 2, port, results)) for rank in range(2)]
    for process in processes:
        process.start()
    try:
        gathered = dict(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    for rank in range(2):  # every rank computes the result of all the images
        for name in ("pixel", "instance", "panoptic"):
            assert_same_numbers(expected_eval("small", name), gathered[rank][name])
