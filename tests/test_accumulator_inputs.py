"""Every accumulator takes the arrays users have: any integer dtype, or anything with ``__array__`` (a CPU
tensor), converted after a range check whose error names the argument as the caller passed it."""
import numpy as np
import pytest

from cityscapesscripts.errors import ImageError
from cityscapesscripts.evaluation.accumulator import integer_array
from cityscapesscripts.evaluation.box3d import Box3dAccumulator, Boxes3d
from cityscapesscripts.evaluation.instance_ap import InstanceAccumulator
from cityscapesscripts.evaluation.panoptic import PanopticAccumulator
from cityscapesscripts.evaluation.semantic import SemanticAccumulator
from conftest import assert_same_numbers

INTEGER_TYPES = [np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64]


class Tensor:
    """What a CPU ``torch.Tensor`` offers NumPy: ``__array__`` (torch itself need not be installed)."""

    def __init__(self, array):
        self.array = np.asarray(array)

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def scene():
    """Label ids (road above, a car below), its instance ids (car 26000) and a perfect train-id prediction."""
    labels = np.full((16, 32), 7, np.uint8)
    labels[8:, 4:20] = 26
    instances = labels.astype(np.uint16)
    instances[labels == 26] = 26000
    train_ids = np.where(labels == 26, 13, 0).astype(np.uint8)
    return labels, instances, train_ids


@pytest.mark.parametrize("dtype", INTEGER_TYPES + ["tensor"])
def test_semantic_accumulator_takes_any_integer_array(dtype):
    labels, instances, train_ids = scene()
    convert = Tensor if dtype == "tensor" else (lambda a: a.astype(dtype))
    reference, acc = SemanticAccumulator(train_ids=True), SemanticAccumulator(train_ids=True)
    reference.add(train_ids, labels, instances)
    acc.add(convert(train_ids), convert(labels), Tensor(instances.astype(np.int32)) if dtype == "tensor"
            else instances.astype(np.int64 if dtype != np.uint8 else np.uint16))
    assert_same_numbers(reference.result(), acc.result())
    assert acc.result()["averageScoreClasses"] == 1.0


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32, "tensor"])
def test_instance_accumulator_takes_any_integer_instance_map(dtype):
    _, instances, _ = scene()
    ids = Tensor(instances.astype(np.int32)) if dtype == "tensor" else instances.astype(dtype)
    acc = InstanceAccumulator()
    acc.add([Tensor(instances == 26000)], [26], [0.9], ids)
    assert float(acc.result()["averages"]["classes"]["car"]["ap"]) == 1.0


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32, "tensor"])
def test_panoptic_accumulator_takes_any_integer_id_map(dtype):
    labels, _, _ = scene()
    ids = Tensor(labels.astype(np.int64)) if dtype == "tensor" else labels.astype(dtype)
    segments = [{"id": 7, "category_id": 7, "area": int((labels == 7).sum()), "iscrowd": 0},
                {"id": 26, "category_id": 26, "area": int((labels == 26).sum()), "iscrowd": 0}]
    acc = PanopticAccumulator({7: {"id": 7, "isthing": 0}, 26: {"id": 26, "isthing": 1}})
    acc.add(ids, segments, labels, segments)
    assert acc.result()["All"]["pq"] == 1.0


def test_box3d_accumulator_takes_integer_and_tensor_boxes():
    def boxes(convert):
        return Boxes3d(["car"], amodal=convert([[10, 10, 40, 20]]), centers=convert([[20, 1, 0]]),
                       dims=convert([[4, 2, 2]]), rotations=convert([[1, 0, 0, 0]]), scores=convert([1]))
    results = []
    for convert in (lambda v: np.asarray(v, float), lambda v: np.asarray(v, np.int32), Tensor):
        acc = Box3dAccumulator(labels=["car"])
        acc.add(boxes(convert), boxes(convert))
        results.append(acc.result())
    assert results[0]["mAP"] == 1.0
    assert_same_numbers(results[0], results[1])
    assert_same_numbers(results[0], results[2])


@pytest.mark.parametrize("call, argument", [
    (lambda a: SemanticAccumulator(instance_scores=False).add(a, np.zeros((2, 2), np.uint8)), "prediction"),
    (lambda a: SemanticAccumulator(instance_scores=False).add(np.zeros((2, 2), np.uint8), a), "ground_truth"),
    (lambda a: SemanticAccumulator().add(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8), a * 1000),
     "instances"),
    (lambda a: InstanceAccumulator().add([], [], [], a * 1000), "ground_truth"),
    (lambda a: PanopticAccumulator({}).add(a * 100000, [], np.zeros((2, 2), np.uint8), []), "pred_ids"),
])
def test_a_value_out_of_range_names_the_callers_argument(call, argument):
    with pytest.raises(ImageError) as error:
        call(np.full((2, 2), -300, np.int64))
    assert error.value.reason.startswith(f"{argument} has ") and "-" in error.value.reason
    assert "must be uint" not in str(error.value)  # never the kernels' own parameter names


def test_non_integer_arrays_are_refused_by_name():
    with pytest.raises(ImageError, match="prediction must hold integer ids, got dtype float32"):
        integer_array(np.zeros((2, 2), np.float32), "prediction", np.uint8)
    assert integer_array(Tensor(np.arange(4, dtype=np.int64)), "x", np.uint8).dtype == np.uint8
