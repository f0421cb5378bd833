"""The mmengine metrics (cityscapesscripts.integrations.mmengine) through a real mmengine Evaluator: the
original's numbers on the golden sets, from CPU tensors as mmseg / mmdet models give them.

Expected values: the original's result dicts on the golden sets (``expected_eval``) and the numbers
mmseg's and mmdet's own Cityscapes metrics get from the original (``fixtures/clients/expected.json``,
replayed by ``client_replays``).
"""
import json
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, InstanceData, PixelData

import client_replays
from cityscapesscripts.errors import ArgumentError, ImageError, LayoutError, PredictionError
from cityscapesscripts.integrations import mmengine as adapter
from cityscapesscripts.io import png
from conftest import FIXTURES, GOLDEN, SETS, assert_same_numbers, expected_eval, import_error_without

with open(os.path.join(FIXTURES, "clients", "expected.json")) as f:
    CLIENTS = json.load(f)


def _paths(golden, image):
    """mmseg's ``img_path`` and ``seg_map_path`` (the train-id file, which need not exist) of a camera image."""
    frame = os.path.basename(image)[:-len("_leftImg8bit.png")]
    city = frame.split("_")[0]
    return frame, os.path.join(golden, "gtFine", "val", city, frame + "_gtFine_labelTrainIds.png")


def semantic_samples(golden, train_ids, device="cpu"):
    """mmseg's data samples of a golden set: the golden prediction as train ids (what a 19-class model's
    argmax gives) or as label ids."""
    samples = []
    for image, frame in client_replays.frames(golden):
        _, seg_map_path = _paths(golden, image)
        prediction = client_replays.semantic_logits_argmax(golden, frame) if train_ids else \
            png.read_label_map(os.path.join(golden, "results", "semantic", frame + "_pred.png"))
        sample = BaseDataElement(metainfo={"img_path": image, "seg_map_path": seg_map_path})
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(np.asarray(prediction))[None].to(device))
        samples.append(sample)
    return samples


def instance_samples(golden, device="cpu"):
    """mmdet's data samples of a golden set: masks, class indices into the thing classes, scores."""
    samples = []
    for image, frame in client_replays.frames(golden):
        outputs = client_replays.instance_outputs(golden, frame)
        size = png.read_label_map(_paths(golden, image)[1].replace("labelTrainIds", "labelIds")).shape
        predicted = InstanceData()
        predicted.masks = torch.from_numpy(np.stack([m for m, _, _ in outputs]) if outputs
                                           else np.zeros((0,) + size, bool)).to(device)
        predicted.labels = torch.tensor([client_replays.THING_CLASSES.index(c) for _, c, _ in outputs],
                                        dtype=torch.int64)
        predicted.scores = torch.tensor([s for _, _, s in outputs], dtype=torch.float64)
        sample = BaseDataElement(metainfo={"img_path": image})
        sample.pred_instances = predicted
        samples.append(sample)
    return samples


def evaluate(metric, samples, batch=2):
    """What mmengine's validation loop does with an evaluator: process batches, then evaluate."""
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = {"classes": tuple(client_replays.THING_CLASSES)}
    for start in range(0, len(samples), batch):
        evaluator.process(data_samples=samples[start:start + batch], data_batch=None)
    return evaluator.evaluate(len(samples))


@pytest.mark.parametrize("golden_set", SETS)
def test_semantic_metric_gives_the_original_result_on_label_ids(golden_set, tensor_device):
    metrics = evaluate(dict(type="CityscapesSemanticMetric", train_ids=False),
                       semantic_samples(os.path.join(GOLDEN, golden_set), train_ids=False, device=tensor_device))
    expected = expected_eval(golden_set, "pixel")
    assert_same_numbers(expected, client_replays.plain(metrics["cityscapes_result"]))
    for key in ("averageScoreClasses", "averageScoreInstClasses", "averageScoreCategories",
                "averageScoreInstCategories"):
        assert_same_numbers(expected[key], metrics[key])


def _mmseg_iou_metric(golden, samples):
    """mmseg's IoUMetric by its definition, on train ids (ground truth from the golden labelTrainIds)."""
    intersect, predicted, labelled = np.zeros(19), np.zeros(19), np.zeros(19)
    for sample in samples:
        frame, _ = _paths(golden, sample.img_path)
        city = frame.split("_")[0]
        gt = png.read_label_map(os.path.join(golden, "expected", "prepared", "gtFine", "val", city,
                                             frame + "_gtFine_labelTrainIds.png")).astype(np.int64)
        pred = sample.pred_sem_seg.data[0].cpu().numpy()
        keep = gt != 255
        gt, pred = gt[keep], pred[keep]
        intersect += np.bincount(gt[gt == pred], minlength=19)
        predicted += np.bincount(pred, minlength=19)
        labelled += np.bincount(gt, minlength=19)
    with np.errstate(invalid="ignore"):
        iou, acc = intersect / (predicted + labelled - intersect), intersect / labelled
    return {"aAcc": round(intersect.sum() / labelled.sum() * 100, 2), "mIoU": round(np.nanmean(iou) * 100, 2),
            "mAcc": round(np.nanmean(acc) * 100, 2)}


@pytest.mark.parametrize("replay_set", client_replays.SETS)
def test_semantic_metric_gives_mmsegs_keys_on_train_ids(replay_set, tensor_device):
    golden = os.path.join(GOLDEN, replay_set)
    samples = semantic_samples(golden, train_ids=True, device=tensor_device)
    metrics = evaluate(dict(type="CityscapesSemanticMetric"), samples)
    mmseg = CLIENTS[replay_set]["mmseg_metric"]["metric"]  # the original's numbers through mmseg's CityscapesMetric
    assert_same_numbers(mmseg, {key: metrics[key] for key in mmseg})
    assert {key: metrics[key] for key in ("aAcc", "mIoU", "mAcc")} == _mmseg_iou_metric(golden, samples)


@pytest.mark.parametrize("golden_set", SETS)
def test_instance_metric_gives_the_original_result(golden_set, tensor_device):
    metrics = evaluate(dict(type="CityscapesInstanceMetric"),
                       instance_samples(os.path.join(GOLDEN, golden_set), tensor_device))
    expected = expected_eval(golden_set, "instance")
    assert_same_numbers(expected, client_replays.plain(metrics["cityscapes/cityscapes_result"]))
    assert metrics["cityscapes/mAP"] == expected["averages"]["allAp"]
    assert metrics["cityscapes/AP@50"] == expected["averages"]["allAp50%"]


@pytest.mark.parametrize("replay_set", client_replays.SETS)
def test_instance_metric_gives_mmdets_keys(replay_set):
    metrics = evaluate(dict(type="CityscapesInstanceMetric", full_result=False),
                       instance_samples(os.path.join(GOLDEN, replay_set)))
    mmdet = CLIENTS[replay_set]["mmdet_metric"]  # the original's numbers through mmdet's CityScapesMetric
    assert metrics == {f"cityscapes/{key}": value for key, value in mmdet.items()}


def _ranks_collected(metric_type, samples, world_size=2, **settings):
    """Each rank's metric processes its share of a distributed sampler's padded order; their results are
    put together as mmengine's ``collect_results`` does (interleaved by rank, cut to the dataset's
    size), and rank 0's metric computes from them."""
    padded = samples + samples[:-len(samples) % world_size]
    metrics = [metric_type(**settings) for _ in range(world_size)]
    for rank, metric in enumerate(metrics):
        metric.dataset_meta = {"classes": tuple(client_replays.THING_CLASSES)}
        metric.process(None, [s.to_dict() for s in padded[rank::world_size]])
    collected = [result for per_rank in zip(*(m.results for m in metrics)) for result in per_rank][:len(samples)]
    return metrics[0].compute_metrics(collected)


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_merge_to_the_single_process_numbers(world_size):
    golden = os.path.join(GOLDEN, "small")
    samples = semantic_samples(golden, train_ids=False)
    merged = _ranks_collected(adapter.CityscapesSemanticMetric, samples, world_size, train_ids=False)
    assert_same_numbers(expected_eval("small", "pixel"), client_replays.plain(merged["cityscapes_result"]))
    merged = _ranks_collected(adapter.CityscapesInstanceMetric, instance_samples(golden), world_size)
    assert_same_numbers(expected_eval("small", "instance"), client_replays.plain(merged["cityscapes_result"]))


def test_results_pickle_as_collect_results_sends_them():
    import pickle
    metric = adapter.CityscapesSemanticMetric(train_ids=False)
    metric.process(None, [s.to_dict() for s in semantic_samples(os.path.join(GOLDEN, "edge"), False)])
    results = pickle.loads(pickle.dumps(metric.results))
    assert_same_numbers(expected_eval("edge", "pixel"), client_replays.plain(
        metric.compute_metrics(results)["cityscapes_result"]))


# ---- bad inputs ------------------------------------------------------------------------------
def _one_semantic_sample(**changes):
    sample = semantic_samples(os.path.join(GOLDEN, "edge"), train_ids=True)[0].to_dict()
    sample.update(changes)
    return sample


def test_float_prediction_is_the_accumulators_error():
    metric = adapter.CityscapesSemanticMetric()
    sample = _one_semantic_sample()
    sample["pred_sem_seg"] = {"data": sample["pred_sem_seg"]["data"].float()}
    with pytest.raises(ImageError, match="prediction must hold integer ids, got dtype float32"):
        metric.process(None, [sample])


def test_train_ids_outside_the_label_set_are_named():
    metric = adapter.CityscapesSemanticMetric()
    sample = _one_semantic_sample()
    sample["pred_sem_seg"] = {"data": sample["pred_sem_seg"]["data"] + 19}
    with pytest.raises(ImageError, match="train ids outside the label set"):
        metric.process(None, [sample])


def test_prediction_of_another_size_is_named():
    metric = adapter.CityscapesSemanticMetric()
    sample = _one_semantic_sample()
    sample["pred_sem_seg"] = {"data": sample["pred_sem_seg"]["data"][:, :-1]}
    with pytest.raises(ImageError, match=r"prediction is 256x127 but its ground truth is 256x128"):
        metric.process(None, [sample])


def test_sample_without_its_ground_truth_path_is_named():
    sample = _one_semantic_sample()
    del sample["seg_map_path"]
    with pytest.raises(ArgumentError, match="the data sample has no 'seg_map_path'"):
        adapter.CityscapesSemanticMetric().process(None, [sample])


def test_missing_ground_truth_file_is_named(tmp_path):
    sample = _one_semantic_sample(seg_map_path=str(tmp_path / "gtFine/val/x/x_000000_000000_gtFine_labelTrainIds.png"))
    with pytest.raises(ImageError, match="x_000000_000000_gtFine_labelIds.png"):
        adapter.CityscapesSemanticMetric().process(None, [sample])


def test_nothing_processed_is_an_error():
    with pytest.raises(ArgumentError, match="no data sample was processed"):
        adapter.CityscapesSemanticMetric().compute_metrics([])


def _one_instance_sample():
    return instance_samples(os.path.join(GOLDEN, "edge"))[0].to_dict()


def test_class_index_outside_the_classes_is_named():
    metric = adapter.CityscapesInstanceMetric()
    metric.dataset_meta = {"classes": tuple(client_replays.THING_CLASSES)}
    sample = _one_instance_sample()
    sample["pred_instances"]["labels"] = sample["pred_instances"]["labels"] + 8
    with pytest.raises(PredictionError, match=r"leftImg8bit.png: predicted class indices outside the 8 classes"):
        metric.process(None, [sample])


def test_classes_that_are_no_cityscapes_labels_are_named():
    metric = adapter.CityscapesInstanceMetric()
    metric.dataset_meta = {"classes": ("person", "unicorn")}
    with pytest.raises(ArgumentError, match=r"dataset_meta\['classes'\] has classes that are no label of "
                                            r"cityscapes: \['unicorn'\]"):
        metric.process(None, [_one_instance_sample()])


def test_instance_metric_needs_the_dataset_classes():
    with pytest.raises(ArgumentError, match=r"needs dataset_meta\['classes'\]"):
        adapter.CityscapesInstanceMetric().process(None, [_one_instance_sample()])


def test_mask_of_another_size_is_the_accumulators_error():
    metric = adapter.CityscapesInstanceMetric()
    metric.dataset_meta = {"classes": tuple(client_replays.THING_CLASSES)}
    sample = _one_instance_sample()
    sample["pred_instances"]["masks"] = sample["pred_instances"]["masks"][:, 1:]
    with pytest.raises(PredictionError, match="mask is 256x127 but the ground truth is 256x128"):
        metric.process(None, [sample])


def test_camera_image_outside_the_layout_is_named():
    metric = adapter.CityscapesInstanceMetric()
    metric.dataset_meta = {"classes": tuple(client_replays.THING_CLASSES)}
    sample = _one_instance_sample()
    sample["img_path"] = "/data/images/lindau_000000_000019_leftImg8bit.png"
    with pytest.raises(LayoutError, match="outside 'leftImg8bit/{split}/{city}/'"):
        metric.process(None, [sample])


def test_a_frameworks_child_registry_finds_the_metrics():
    """mmseg's and mmdet's METRICS are children of mmengine's; a config built through them finds ours."""
    from mmengine.registry import METRICS, Registry
    child = Registry("metric", parent=METRICS, scope="mmseg_like")
    assert isinstance(child.build(dict(type="CityscapesInstanceMetric")), adapter.CityscapesInstanceMetric)
    assert child.build(dict(type="CityscapesSemanticMetric", train_ids=False)).train_ids is False


def test_without_mmengine_the_import_says_what_to_install():
    message = import_error_without("mmengine", "cityscapesscripts.integrations.mmengine")
    assert "needs mmengine" in message and "pip install mmengine" in message


def _rank(rank, world_size, port, golden, out):
    """One rank of a gloo process group: its share of a distributed sampler's padded order, then mmengine's
    own ``evaluate`` (``collect_results``, broadcast of the metrics)."""
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        samples = semantic_samples(golden, train_ids=False)
        padded = samples + samples[:-len(samples) % world_size]
        metric = adapter.CityscapesSemanticMetric(train_ids=False)
        metric.process(None, [s.to_dict() for s in padded[rank::world_size]])
        metrics = metric.evaluate(len(samples))
        with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
            json.dump(client_replays.plain(metrics["cityscapes_result"]), f)
    finally:
        dist.destroy_process_group()


def test_gloo_ranks_give_the_single_process_numbers(tmp_path):
    """Three processes, mmengine's collect_results over a real process group: every rank gets the original's
    result of the whole set, the sampler's repeated sample dropped."""
    import socket
    import torch.multiprocessing
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_rank, args=(3, port, os.path.join(GOLDEN, "small"), str(tmp_path)), nprocs=3)
    for rank in range(3):
        with open(tmp_path / f"rank{rank}.json") as f:
            assert_same_numbers(expected_eval("small", "pixel"), json.load(f))
