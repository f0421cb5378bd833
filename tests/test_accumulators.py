"""The accumulators' shared shape: merge checks, unique image names, reset, ``+=``, and the README recipe."""
import functools
import multiprocessing
import os
import pickle
import re
import sys
import time
import types

import numpy as np
import pytest

from cityscapesscripts.evaluation import instance_ap, panoptic, semantic
from cityscapesscripts.helpers.labelset import CITYSCAPES, LabelSet

from conftest import GOLDEN, assert_same_numbers
from golden_arrays import semantic_frames

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
SMALL = os.path.join(GOLDEN, "small")


def readme_recipe():
    """The README's distributed-evaluation code block, as written."""
    with open(README) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    return next(block for block in blocks if "all_gather_object" in block)


def loader_items():
    """(train-id prediction, label ids, instance ids) of the small golden set."""
    return [(CITYSCAPES.id_to_train_id[prediction], labels, instances)
            for _, prediction, labels, instances in semantic_frames(SMALL)]


def fake_torch(folder, rank, world_size):
    """A ``torch`` whose ``distributed.all_gather_object`` exchanges pickles through files, as ranks do."""
    def all_gather_object(parts, obj):
        with open(os.path.join(folder, f"{rank}.tmp"), "wb") as f:
            pickle.dump(obj, f)
        os.replace(os.path.join(folder, f"{rank}.tmp"), os.path.join(folder, f"{rank}.pkl"))
        deadline = time.monotonic() + 60
        while not all(os.path.exists(os.path.join(folder, f"{r}.pkl")) for r in range(world_size)):
            if time.monotonic() > deadline:
                raise TimeoutError("ranks did not all arrive")
            time.sleep(0.01)
        for r in range(world_size):
            with open(os.path.join(folder, f"{r}.pkl"), "rb") as f:
                parts[r] = pickle.load(f)
    torch = types.ModuleType("torch")
    torch.distributed = types.SimpleNamespace(all_gather_object=all_gather_object,
                                              get_world_size=lambda: world_size)
    return torch


def run_rank(rank, world_size, folder, results):
    """One rank: the README code on its share of the frames; sends back its ``total.result()``."""
    code = readme_recipe()
    sys.modules["torch"] = fake_torch(folder, rank, world_size)
    sys.modules["torch.distributed"] = sys.modules["torch"].distributed
    items = loader_items()  # each rank a contiguous share, so that merging by rank keeps the frame order
    share = items[rank * len(items) // world_size:(rank + 1) * len(items) // world_size]
    namespace = {"loader": share}
    exec(code.replace('total.result()["averageScoreClasses"]', 'result = total.result()'), namespace)
    results.put((rank, namespace["result"]))


def test_readme_distributed_recipe_equals_a_single_run(tmp_path):
    world_size = 3
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    ranks = [context.Process(target=run_rank, args=(r, world_size, str(tmp_path), results)) for r in range(world_size)]
    for process in ranks:
        process.start()
    gathered = dict(results.get(timeout=120) for _ in ranks)
    for process in ranks:
        process.join(timeout=60)
        assert process.exitcode == 0
    single = semantic.SemanticAccumulator(train_ids=True)
    for pred, gt, inst in loader_items():
        single.add(pred, gt, inst)
    expected = single.result()
    for rank in range(world_size):
        assert_same_numbers(expected, gathered[rank])


def _instance_part(seed):
    gt = np.zeros((32, 32), np.uint16)
    gt[4:20, 4:20] = 26000
    acc = instance_ap.InstanceAccumulator()
    acc.add([gt == 26000], [26], [0.5 + seed / 10], gt)
    return pickle.dumps(acc)


def test_unnamed_images_of_separate_processes_merge():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        parts = [pickle.loads(p) for p in pool.map(_instance_part, [1, 2])]
    total = functools.reduce(lambda a, b: a.merge(b), parts)
    assert total.images == 2 and len(total.matches) == 2
    assert total.result()["averages"]["classes"]["car"]["ap"] == 1.0


def test_an_image_merged_twice_is_an_error():
    acc = semantic.SemanticAccumulator(instance_scores=False, pixel_accuracy=True)
    acc.add(np.full((2, 2), 7, np.uint8), np.full((2, 2), 7, np.uint8), name="a.png")
    with pytest.raises(ValueError, match="'a.png'"):
        acc.merge(pickle.loads(pickle.dumps(acc)))
    named = instance_ap.InstanceAccumulator()
    named.add([], [], [], np.zeros((4, 4), np.uint16), name="x")
    with pytest.raises(ValueError, match="image 'x'"):
        named.merge(pickle.loads(pickle.dumps(named)))


@pytest.mark.parametrize("make, other, message", [
    (lambda: semantic.SemanticAccumulator(), lambda: instance_ap.InstanceAccumulator(), "cannot merge a"),
    (lambda: semantic.SemanticAccumulator(), lambda: semantic.SemanticAccumulator(train_ids=True), "train_ids"),
    (lambda: semantic.SemanticAccumulator(), lambda: semantic.SemanticAccumulator(avg_class_size={}),
     "avg_class_size"),
    (lambda: instance_ap.InstanceAccumulator(), lambda: instance_ap.InstanceAccumulator(overlaps=[0.5]),
     "overlaps"),
    (lambda: panoptic.PanopticAccumulator({7: {"id": 7, "isthing": 0}}),
     lambda: panoptic.PanopticAccumulator({}), "categories"),
    (lambda: semantic.SemanticAccumulator(),
     lambda: semantic.SemanticAccumulator(label_set=LabelSet(CITYSCAPES.labels[:-1])), "label sets"),
])
def test_merge_refuses_what_would_change_the_result(make, other, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make().merge(other())


def test_reset_and_iadd():
    gt = np.full((4, 4), 7, np.uint8)
    acc = semantic.SemanticAccumulator(instance_scores=False)
    acc.add(gt, gt)
    other = semantic.SemanticAccumulator(instance_scores=False)
    other.add(gt, gt)
    acc += other
    assert acc.images == 2 and acc.conf[7, 7] == 32
    acc.reset()
    assert acc.images == 0 and acc.conf.sum() == 0 and acc.instance_scores is False
