"""A key for how the running BLAS's dot adds (its kernel's order and fused multiply-adds).

The original's instance AP is ``np.dot(precision, step widths)``: its last bits follow the OpenBLAS
kernel the CPU gets, and so do ours.  ``tests/fixtures/instance_by_blas_dot.json`` holds the
original's instance results under each x86-64 kernel family, by this key.
"""
import hashlib

import numpy as np


def blas_dot_key():
    """A short hash of ``np.dot`` of seeded random vectors of the lengths where kernels split the work."""
    rng = np.random.default_rng(0)
    sums = []
    for n in (2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257):
        for _ in range(20):
            sums.append(float(np.dot(rng.normal(size=n), rng.normal(size=n))))
    return hashlib.sha1(repr(sums).encode()).hexdigest()[:12]
