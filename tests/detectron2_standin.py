"""A stand-in of the few detectron2 names ``cityscapesscripts.integrations.detectron2`` uses (detectron2 is
not on the package index), for its tests and benchmark: ``modules()`` makes the modules, ``install()``
puts them into ``sys.modules``.

* ``detectron2.data.MetadataCatalog``: ``get(name)`` gives a dataset's metadata, whose fields ``set``
  sets, as detectron2's;
* ``detectron2.evaluation.DatasetEvaluator``: the base class of evaluators;
* ``detectron2.structures.Instances``: a model's predicted instances (fields as attributes, ``len``);
* ``detectron2.utils.comm``: one process plays every rank in turn (``as_rank``).  Real ranks call
  ``gather`` at the same time; here each rank's call leaves its object, and the call of the
  destination rank, made last, returns them all in rank order.
"""
import contextlib
import sys
import types


class Metadata(types.SimpleNamespace):
    def set(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)
        return self


class MetadataCatalog:
    _datasets: dict = {}

    @classmethod
    def get(cls, name):
        return cls._datasets.setdefault(name, Metadata(name=name))


class DatasetEvaluator:
    def reset(self):
        pass

    def process(self, inputs, outputs):
        pass

    def evaluate(self):
        pass


class Instances:
    def __init__(self, image_size, **fields):
        self.image_size = image_size
        for key, value in fields.items():
            setattr(self, key, value)

    def __len__(self):
        return len(self.scores)


class Ranks:
    """The rank the process plays now, the world size, and what each rank sent to ``gather``."""
    rank, world_size, sent = 0, 1, {}


def get_rank():
    return Ranks.rank


def get_world_size():
    return Ranks.world_size


def is_main_process():
    return Ranks.rank == 0


def synchronize():
    pass


def gather(data, dst=0):
    Ranks.sent[Ranks.rank] = data
    if Ranks.rank != dst:
        return []
    if len(Ranks.sent) != Ranks.world_size:
        raise RuntimeError(f"gather on rank {dst} before every rank sent (sent: {sorted(Ranks.sent)})")
    return [Ranks.sent.pop(rank) for rank in range(Ranks.world_size)]


@contextlib.contextmanager
def as_rank(rank, world_size):
    """Play ``rank`` of ``world_size`` ranks in the block."""
    previous = Ranks.rank, Ranks.world_size
    Ranks.rank, Ranks.world_size = rank, world_size
    try:
        yield
    finally:
        Ranks.rank, Ranks.world_size = previous


def modules():
    """``{module name: module}`` of the stand-in."""
    package = types.ModuleType("detectron2")
    package.__path__ = []
    out = {"detectron2": package}
    for name, fields in (("data", {"MetadataCatalog": MetadataCatalog}),
                         ("evaluation", {"DatasetEvaluator": DatasetEvaluator}),
                         ("structures", {"Instances": Instances}),
                         ("utils", {}),
                         ("utils.comm", {"get_rank": get_rank, "get_world_size": get_world_size,
                                         "is_main_process": is_main_process, "synchronize": synchronize,
                                         "gather": gather, "as_rank": as_rank})):
        module = types.ModuleType(f"detectron2.{name}")
        module.__dict__.update(fields)
        out[module.__name__] = module
    package.data, package.evaluation, package.structures, package.utils = (
        out[f"detectron2.{n}"] for n in ("data", "evaluation", "structures", "utils"))
    package.utils.comm = out["detectron2.utils.comm"]
    return out


def install():
    """Put the stand-in modules into ``sys.modules`` (the real detectron2 is never imported)."""
    sys.modules.update(modules())
