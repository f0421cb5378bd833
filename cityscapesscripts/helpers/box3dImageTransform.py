"""3D boxes of Cityscapes 3D in their coordinate systems, and their projection into the image.

Four coordinate systems (see ``docs/csCalibration.pdf`` of the dataset):

* ``CRS_V``: the vehicle (ISO 8855), origin on the ground below the rear axle,
  x forward, y left, z up.  Annotations are given in V.
* ``CRS_C``: the camera, origin in the optical centre, axes as V.
* ``CRS_S``: origin of C, axes of the image: x right, y down, z forward.
* the image I: u right, v down, origin in the top-left pixel.

The module keeps the original's face (``Camera``, ``Box3dImageTransform``,
``get_projection_matrix``, ``apply_transformation_points``); rotations are
:class:`Quaternion` objects that behave like pyquaternion's for the
attributes used downstream (``elements``, ``rotation_matrix``,
``yaw_pitch_roll``, ``inverse``, ``*``, ``rotate``).  The array functions
(``normalised_quaternions``, ``yaw_pitch_roll``, ``box_vertices``,
``amodal_boxes_2d``) work on N boxes at once; the evaluator uses them.
"""
import functools
import itertools
import math

import numpy as np

CRS_V = 0
CRS_C = 1
CRS_S = 2

# corner order of get_vertices: Back/Front, Left/Right, Bottom/Top
_CORNERS = ["BLB", "BRB", "FRB", "FLB", "BLT", "BRT", "FRT", "FLT"]
# corner signs (x along length, y along width, z along height) in that order
_CORNER_SIGNS = np.array([[-1, 1, -1], [-1, -1, -1], [1, -1, -1], [1, 1, -1],
                          [-1, 1, 1], [-1, -1, 1], [1, -1, 1], [1, 1, 1]], dtype=float)
# faces as corner cycles, in the order of get_all_side_polygons_2d
_FACES = {"front": [3, 2, 6, 7], "back": [0, 1, 5, 4], "top": [4, 5, 6, 7],
          "bottom": [0, 1, 2, 3], "left": [3, 0, 4, 7], "right": [1, 5, 6, 2]}
_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                   [0, 4], [1, 5], [2, 6], [3, 7]])
# points closer to the camera plane than this (in m) are cut off before projecting
_CAMERA_PLANE_Z = 0.01


def get_K_multiplier():
    """The axis permutation from C to S: ``p_S = M @ p_C``, i.e. (x, y, z)_S = (-y, -z, x)_C."""
    return np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def get_projection_matrix(camera):
    """The 3x3 intrinsic matrix K of ``camera`` (projects S to homogeneous image points)."""
    return np.array([[camera.fx, 0.0, camera.u0], [0.0, camera.fy, camera.v0], [0.0, 0.0, 1.0]])


def apply_transformation_points(points, transformation_matrix):
    """``(N, 3)`` points mapped by a 3x4 (or 4x4) affine matrix; returns ``(N, 3)`` (or ``(N, 4)``).

    As the original: one BLAS product of the matrix and the homogeneous points' transpose.
    """
    points = np.asarray(points, dtype=float)
    homogeneous = np.concatenate([points, np.ones((points.shape[0], 1))], axis=1)
    return np.matmul(np.asarray(transformation_matrix, dtype=float), homogeneous.T).T


class Camera:
    """Intrinsics (``fx``, ``fy``, ``u0``, ``v0``), ``sensor_T_ISO_8855`` (3x4, V to C) and image size."""

    def __init__(self, fx, fy, u0, v0, sensor_T_ISO_8855, imgWidth=2048, imgHeight=1024):
        self.fx = fx
        self.fy = fy
        self.u0 = u0
        self.v0 = v0
        self.sensor_T_ISO_8855 = sensor_T_ISO_8855
        self.imgWidth = imgWidth
        self.imgHeight = imgHeight


# ----------------------------------------------------------------------------------------------
# quaternions, [w, x, y, z]; normalisation and angles follow pyquaternion 0.9.9 operation by
# operation, because the evaluation's orientation scores depend on their last bits


class Quaternion:
    """A rotation quaternion with the parts of pyquaternion's ``Quaternion`` that Cityscapes code uses.

    ``Quaternion([w, x, y, z])``, ``Quaternion(w, x, y, z)``, ``Quaternion(other)`` or
    ``Quaternion(matrix=R)`` (R a 3x3 rotation matrix).  Like pyquaternion, the
    elements are kept as given; ``rotation_matrix``, ``yaw_pitch_roll`` and
    ``rotate`` normalise the quaternion first (in place).
    """

    def __init__(self, *args, matrix=None, array=None):
        if matrix is not None:
            self.q = _quaternion_from_matrix(np.asarray(matrix, dtype=float))
        elif array is not None:
            self.q = np.asarray(array, dtype=float)
        elif len(args) == 1 and isinstance(args[0], Quaternion):
            self.q = args[0].q
        elif len(args) == 1:
            self.q = _four_floats(args[0])
        elif len(args) == 4:
            self.q = _four_floats(args)
        elif not args:
            self.q = np.array([1.0, 0.0, 0.0, 0.0])
        else:
            raise ValueError(f"a quaternion needs 4 numbers, got {len(args)}")

    def __repr__(self):
        return "Quaternion({!r}, {!r}, {!r}, {!r})".format(*(float(v) for v in self.q))

    @property
    def elements(self):
        """The 4 elements ``[w, x, y, z]`` (not necessarily of unit length)."""
        return self.q

    @property
    def scalar(self):
        return self.q[0]

    @property
    def vector(self):
        return self.q[1:4]

    w = property(lambda self: self.q[0])
    x = property(lambda self: self.q[1])
    y = property(lambda self: self.q[2])
    z = property(lambda self: self.q[3])

    def __getitem__(self, index):
        return self.q[int(index)]

    @property
    def norm(self):
        return math.sqrt(squared_norms(self.q)[0])

    def _normalise(self):
        self.q = normalised_quaternions(self.q[None])[0]

    @property
    def normalised(self):
        return Quaternion(array=normalised_quaternions(self.q[None])[0])

    @property
    def conjugate(self):
        return Quaternion(array=np.hstack((self.q[0], -self.q[1:4])))

    @property
    def inverse(self):
        squares = squared_norms(self.q)[0]
        if not squares > 0:
            raise ZeroDivisionError("a zero quaternion cannot be inverted")
        return Quaternion(array=np.hstack((self.q[0], -self.q[1:4])) / squares)

    def __mul__(self, other):
        if not isinstance(other, Quaternion):
            other = Quaternion(other)
        return Quaternion(array=np.dot(_left_matrix(self.q), other.q))

    def __rmul__(self, other):
        return Quaternion(other) * self

    def __eq__(self, other):
        if not isinstance(other, Quaternion):
            return NotImplemented
        return bool(np.allclose(self.q, other.q, rtol=1e-13, atol=1e-14))

    __hash__ = None

    @property
    def rotation_matrix(self):
        """The 3x3 rotation matrix (normalises first)."""
        self._normalise()
        return np.dot(_left_matrix(self.q), _right_matrix(self.q).T)[1:, 1:]

    @property
    def yaw_pitch_roll(self):
        """``(yaw, pitch, roll)`` in radians, with pyquaternion's formulas (normalises first)."""
        self._normalise()
        yaw, pitch, roll = yaw_pitch_roll(self.q[None])[0]
        return yaw, pitch, roll

    def rotate(self, vector):
        """``vector`` (3 numbers, or a pure Quaternion) rotated; returned as the type it was given."""
        self._normalise()
        if isinstance(vector, Quaternion):
            return self * vector * self.conjugate
        rotated = (self * Quaternion(array=np.hstack((0.0, _three_floats(vector)))) * self.conjugate).q[1:4]
        if isinstance(vector, list):
            return list(rotated)
        if isinstance(vector, tuple):
            return tuple(rotated)
        return rotated


def _four_floats(values):
    values = list(values)
    if len(values) != 4:
        raise ValueError(f"a quaternion needs 4 numbers, got {len(values)}")
    return np.array([float(v) for v in values])


def _three_floats(values):
    values = list(values)
    if len(values) != 3:
        raise ValueError(f"a vector needs 3 numbers, got {len(values)}")
    return np.array([float(v) for v in values])


def _left_matrix(q):
    """The matrix L(q) with ``q * p == L(q) @ p`` (pyquaternion's ``_q_matrix``); of each of a stack of q too."""
    return np.asarray(q, dtype=float)[..., _PRODUCT_INDEX] * _LEFT_SIGNS


def _right_matrix(q):
    """The matrix R(q) with ``p * q == R(q) @ p`` (pyquaternion's ``_q_bar_matrix``); of each of a stack of q too."""
    return np.asarray(q, dtype=float)[..., _PRODUCT_INDEX] * _RIGHT_SIGNS


# L(q) and R(q) as element indices and signs; times -1.0 negates exactly, zeros included, as a unary minus does
_PRODUCT_INDEX = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]])
_LEFT_SIGNS = np.array([[1, -1, -1, -1], [1, 1, -1, 1], [1, 1, 1, -1], [1, -1, 1, 1]], dtype=float)
_RIGHT_SIGNS = np.array([[1, -1, -1, -1], [1, 1, 1, -1], [1, -1, 1, 1], [1, 1, -1, 1]], dtype=float)


def _quaternion_from_matrix(rotation):
    """The quaternion of a 3x3 rotation matrix (pyquaternion's trace method and sign choice)."""
    if rotation.shape == (4, 4):
        rotation = rotation[:3, :3]
    if rotation.shape != (3, 3):
        raise ValueError(f"a rotation matrix must be 3x3, got shape {rotation.shape}")
    if not np.allclose(rotation @ rotation.T, np.eye(3), rtol=1e-5, atol=1e-8):
        raise ValueError("matrix is not orthogonal, so it is no rotation")
    if not np.isclose(np.linalg.det(rotation), 1.0, rtol=1e-5, atol=1e-8):
        raise ValueError("matrix has determinant -1 (a reflection), so it is no rotation")
    m = rotation.T
    # pick the largest of the four candidate pivots, as the trace method does
    if m[2, 2] < 0:
        if m[0, 0] > m[1, 1]:
            t = 1 + m[0, 0] - m[1, 1] - m[2, 2]
            q = [m[1, 2] - m[2, 1], t, m[0, 1] + m[1, 0], m[2, 0] + m[0, 2]]
        else:
            t = 1 - m[0, 0] + m[1, 1] - m[2, 2]
            q = [m[2, 0] - m[0, 2], m[0, 1] + m[1, 0], t, m[1, 2] + m[2, 1]]
    elif m[0, 0] < -m[1, 1]:
        t = 1 - m[0, 0] - m[1, 1] + m[2, 2]
        q = [m[0, 1] - m[1, 0], m[2, 0] + m[0, 2], m[1, 2] + m[2, 1], t]
    else:
        t = 1 + m[0, 0] + m[1, 1] + m[2, 2]
        q = [t, m[1, 2] - m[2, 1], m[2, 0] - m[0, 2], m[0, 1] - m[1, 0]]
    return np.array(q, dtype=float) * (0.5 / math.sqrt(t))


def squared_norms(quaternions):
    """``(N,)`` sums of squares of ``(N, 4)`` quaternions, each equal to pyquaternion's ``np.dot(q, q)``.

    That dot is BLAS's, whose order of adding (and use of fused multiply-adds) depends on the
    kernel OpenBLAS picks for the CPU; the normalised elements, and so the orientation scores,
    depend on its last bit.  A stack of ``(1, 4) @ (4, 1)`` products goes, in NumPy, through the
    same dot function as ``np.dot`` of two vectors, for all N at once; ``_stacked_dot_is_np_dot``
    checks that once per process, else each row gets its own ``np.dot``.
    """
    q = np.ascontiguousarray(quaternions, dtype=float).reshape(-1, 4)
    if _stacked_dot_is_np_dot():
        return (q[:, None, :] @ q[:, :, None]).reshape(-1)
    return np.array([np.dot(row, row) for row in q], dtype=float).reshape(-1)


# rows whose sum of squares rounds differently when added left to right, with fused multiply-adds
# left to right (OpenBLAS's SkylakeX kernel), as (0 + 2) + (1 + 3) (its Prescott kernel), pairwise,
# or right to left: each two of these orders disagree on at least one of the rows
_ORDER_PROBES = ((-0.4199, 0.3278, -2.1382, -1.4499), (-1.9203, -0.8141, -0.4676, -1.1932))


@functools.lru_cache(maxsize=None)
def _stacked_dot_is_np_dot():
    """Whether stacked ``@`` of row by column gives ``np.dot``'s sums, bit for bit, on the probe rows and random ones."""
    rows = np.concatenate([np.array(_ORDER_PROBES), np.round(np.random.default_rng(0).normal(size=(256, 4)), 4)])
    stacked = (rows[:, None, :] @ rows[:, :, None]).reshape(-1)
    return stacked.tolist() == [np.dot(row, row) for row in rows]


def scalar_squares(values):
    """``values ** 2`` as one float at a time squares it (pyquaternion, ``CsBbox3d.depth``): C's ``pow(v, 2)``.

    An array's ``** 2`` is ``v * v``, the exact square rounded once; some C libraries' ``pow``
    (glibc's, within 0.52 units in the last place) round about one square in 1500 the other way.
    """
    values = np.asarray(values, dtype=float)
    squares = np.fromiter(map(math.pow, values.ravel().tolist(), itertools.repeat(2.0)), float, values.size)
    return squares.reshape(values.shape)


def normalised_quaternions(quaternions):
    """``(N, 4)`` quaternions scaled to unit length; those within 1e-14 of it (squared) are kept as given (pyquaternion)."""
    quaternions = np.array(quaternions, dtype=float).reshape(-1, 4)
    squares = squared_norms(quaternions)
    scale = ~(np.abs(1.0 - squares) < 1e-14) & (squares > 0)
    quaternions[scale] /= np.sqrt(squares[scale])[:, None]
    return quaternions


def yaw_pitch_roll(quaternions):
    """``(N, 3)`` yaw, pitch, roll of ``(N, 4)`` quaternions [w, x, y, z], normalised first.

    pyquaternion's formulas, which the Cityscapes 3D scores are defined with
    (not the textbook z-y'-x'' signs for pitch and roll).
    """
    w, x, y, z = normalised_quaternions(quaternions).T
    yaw = np.arctan2(2 * (w * z - x * y), 1 - 2 * (scalar_squares(y) + scalar_squares(z)))
    pitch = np.arcsin(2 * (w * y + z * x))
    roll = np.arctan2(2 * (w * x - y * z), 1 - 2 * (scalar_squares(x) + scalar_squares(y)))
    return np.stack([yaw, pitch, roll], axis=-1)


def rotation_matrices(quaternions):
    """``(N, 3, 3)`` rotation matrices of ``(N, 4)`` unit quaternions [w, x, y, z].

    pyquaternion multiplies two 4x4 matrices of q with ``np.dot`` (a BLAS gemm, whose rounding depends on
    the kernel OpenBLAS picks for the CPU); a stack of the same products goes, in NumPy's ``matmul``, through
    the same gemm call per box (same sizes, strides and transposition).
    """
    q = np.asarray(quaternions, dtype=float).reshape(-1, 4)
    return np.ascontiguousarray(_per_box_matmul(_left_matrix(q), _right_matrix(q).transpose(0, 2, 1))[:, 1:, 1:])


# ----------------------------------------------------------------------------------------------
# boxes as arrays


# The original multiplies every box's matrices on its own through BLAS (np.matmul of 2-D arrays: one gemm
# each, whose rounding depends on the OpenBLAS kernel); the stacked products below give NumPy's matmul the
# same operands per box (sizes, strides, transposition, order), so it makes the same gemm call per box.


def _per_box_matmul(left, right):
    """``np.matmul`` of stacks of matrices, each item equal to that item's own 2-D ``np.matmul``.

    NumPy's matmul calls BLAS once per stacked item with that item's sizes and strides, as for one
    2-D product; ``_stacked_matmul_is_per_box`` checks that once per process, else each item is multiplied
    on its own (same operands, same layout).
    """
    if _stacked_matmul_is_per_box():
        return np.matmul(left, right)
    count = max(np.shape(left)[0] if np.ndim(left) == 3 else 0, np.shape(right)[0] if np.ndim(right) == 3 else 0)
    if count == 0:
        return np.matmul(left, right)
    lefts = left if np.ndim(left) == 3 else [left] * count
    rights = right if np.ndim(right) == 3 else [right] * count
    return np.stack([np.matmul(a, b) for a, b in zip(lefts, rights)])


@functools.lru_cache(maxsize=None)
def _stacked_matmul_is_per_box():
    """Whether stacked products equal the items' own products, bit for bit, in every layout used here."""
    rng = np.random.default_rng(0)
    count = 97  # items at odd offsets of the stack, as any box of an image may be

    def stack(*shape):
        return rng.normal(size=(count,) + shape) * rng.uniform(0.1, 50.0, size=(count,) + (1,) * len(shape))

    pairs = [(stack(4, 4), stack(4, 4).transpose(0, 2, 1)), (stack(3, 3), stack(8, 3).transpose(0, 2, 1)),
             (rng.normal(size=(3, 4)), stack(8, 4).transpose(0, 2, 1)), (get_K_multiplier(), stack(3, 8)),
             (np.array([[2262.5, 0.0, 1096.98], [0.0, 2265.3, 513.137], [0.0, 0.0, 1.0]]), stack(3, 8))]
    pairs += [(pairs[-1][0], stack(points, 3).transpose(0, 2, 1)) for points in range(1, 9)]
    for left, right in pairs:
        lefts = left if left.ndim == 3 else [left] * count
        if not np.array_equal(np.matmul(left, right), [np.matmul(a, b) for a, b in zip(lefts, right)]):
            return False
    return True


def _corner_offsets(sizes):
    """``(N, 8, 3)`` corners of boxes of ``(N, 3)`` sizes about their centres, unrotated."""
    return np.ascontiguousarray(np.asarray(sizes, dtype=float)[:, None, :] / 2 * _CORNER_SIGNS)


def box_vertices(sizes, rotations, centers):
    """``(N, 8, 3)`` corners (order BLB BRB FRB FLB BLT BRT FRT FLT) of boxes given by
    ``(N, 3)`` sizes (length, width, height), ``(N, 3, 3)`` rotation matrices and ``(N, 3)`` centres."""
    rotations = np.ascontiguousarray(rotations, dtype=float)
    rotated = _per_box_matmul(rotations, _corner_offsets(sizes).transpose(0, 2, 1)).transpose(0, 2, 1)
    return rotated + np.asarray(centers, dtype=float)[:, None, :]


def vehicle_to_sensor(points, camera):
    """``(N, K, 3)`` points in V to S (camera origin, image axes), for each of the N sets as the original:
    the homogeneous points through ``sensor_T_ISO_8855``, then the axis permutation."""
    points = np.asarray(points, dtype=float)
    homogeneous = np.concatenate([points, np.ones(points.shape[:2] + (1,))], axis=2)
    in_c = _per_box_matmul(np.asarray(camera.sensor_T_ISO_8855, dtype=float), homogeneous.transpose(0, 2, 1))
    return _per_box_matmul(get_K_multiplier(), in_c).transpose(0, 2, 1)


def project(points_s, camera):
    """``(N, K, 2)`` image points of ``(N, K, 3)`` points in S (pinhole, no check of z), one product per set."""
    points_s = np.asarray(points_s, dtype=float)
    homogeneous = _per_box_matmul(get_projection_matrix(camera), points_s.transpose(0, 2, 1))
    return (homogeneous[:, :2, :] / homogeneous[:, 2:, :]).transpose(0, 2, 1)


_FACE_CORNERS = np.array(list(_FACES.values()))
_FACE_NEIGHBOURS = np.stack([np.roll(_FACE_CORNERS, 1, axis=1), np.roll(_FACE_CORNERS, -1, axis=1)], axis=2)


def _cropped_faces(vertices_s):
    """The faces of ``(N, 8, 3)`` boxes cut at the camera plane, as the original crops them.

    Returns ``(N, 6, 12, 3)`` candidate points and which of them are kept: per face corner, in
    order, the corner itself if in front of the plane, else the crossings of its edges to the
    previous and to the next corner where those lie in front.
    """
    faces = vertices_s[:, _FACE_CORNERS]  # (N, 6, 4, 3)
    neighbours = vertices_s[:, _FACE_NEIGHBOURS]  # (N, 6, 4, 2, 3): previous and next corner
    front = vertices_s[..., 2] > _CAMERA_PLANE_Z
    delta = faces[:, :, :, None] - neighbours
    with np.errstate(divide="ignore", invalid="ignore"):  # edges that do not cross are dropped
        k = (_CAMERA_PLANE_Z - faces[..., None, 2]) / delta[..., 2]
        crossings = faces[:, :, :, None] + k[..., None] * delta
    face_front = front[:, _FACE_CORNERS]
    crossing_kept = ~face_front[..., None] & front[:, _FACE_NEIGHBOURS]
    candidates = np.concatenate([faces[:, :, :, None], crossings], axis=3)  # (N, 6, 4, 3 candidates, 3)
    kept = np.concatenate([face_front[..., None], crossing_kept], axis=3)
    return candidates.reshape(len(faces), 6, 12, 3), kept.reshape(len(faces), 6, 12)


def amodal_boxes_2d(vertices_s, camera):
    """``(N, 4)`` [xmin, ymin, xmax, ymax] image boxes of ``(N, 8, 3)`` box corners in S.

    The box encloses the projected corners in front of the camera plane
    (z > 1 cm) and the points where box edges cross that plane, clipped to
    ``[0, imgWidth - 1] x [0, imgHeight - 1]``; ``[0, 0, 0, 0]`` for a box
    wholly behind the plane.  Each cut face is projected as one product, as
    the original does: faces with as many points are projected together.
    """
    vertices_s = np.asarray(vertices_s, dtype=float).reshape(-1, 8, 3)
    n = len(vertices_s)
    candidates, kept = _cropped_faces(vertices_s)
    counts = kept.sum(axis=2).reshape(-1)
    # the kept points first, in their order
    order = np.argsort(~kept, axis=2, kind="stable").reshape(-1, 12)
    candidates = candidates.reshape(-1, 12, 3)
    lo = np.full((n * 6, 2), np.inf)
    hi = np.full((n * 6, 2), -np.inf)
    for count in np.unique(counts[counts > 0]):
        faces = np.flatnonzero(counts == count)
        points = candidates[faces[:, None], order[faces, :count]]
        image = project(points, camera)
        lo[faces], hi[faces] = image.min(axis=1), image.max(axis=1)
    lo, hi = lo.reshape(n, 6, 2).min(axis=1), hi.reshape(n, 6, 2).max(axis=1)
    limits = np.array([camera.imgWidth - 1, camera.imgHeight - 1], dtype=float)
    boxes = np.concatenate([np.minimum(limits, np.maximum(0, lo)), np.minimum(limits, np.maximum(0, hi))], axis=1)
    boxes[~(counts.reshape(n, 6) > 0).any(axis=1)] = 0.0
    return boxes


def _crop_and_project(points_s, camera):
    """A closed polygon (list of [u, v], first point repeated) of the part of a 3D polygon
    in front of the camera plane; ``[]`` when none of it is."""
    cropped = []
    count = len(points_s)
    for i, point in enumerate(points_s):
        if point[2] > _CAMERA_PLANE_Z:
            cropped.append(point)
            continue
        for neighbour in (points_s[i - 1], points_s[(i + 1) % count]):
            if neighbour[2] > _CAMERA_PLANE_Z:
                delta = point - neighbour
                cropped.append(point + (_CAMERA_PLANE_Z - point[2]) / delta[2] * delta)
    if not cropped:
        return []
    polygon = project(np.array(cropped)[None], camera)[0].tolist()
    return polygon + polygon[:1]


class Box3dImageTransform:
    """One 3D box on one camera: its corners in V, C, S and the image, visible sides, 2D boxes.

    >>> camera = Camera(2262.5, 2265.3, 1096.98, 513.137, [[1, 0, 0, -1.7], [0, 1, 0, 0.1], [0, 0, 1, -1.2]])
    >>> box = Box3dImageTransform(camera)
    >>> box.initialize_box([4.0, 2.0, 1.5], [1, 0, 0, 0], [20.0, 0.0, 0.75])
    >>> [round(v) for v in box.get_amodal_box_2d()]
    [944, 471, 1222, 680]
    """

    def __init__(self, camera):
        self._camera = camera
        self.loc = list(_CORNERS)
        self._size = np.zeros(3)
        self._center = np.zeros(3)
        self._rotation_matrix = np.eye(3)
        self._box_points_3d_vehicle = np.zeros((8, 3))
        self._box_points_3d_cam = np.zeros((8, 3))
        self._box_points_2d = np.zeros((8, 2))
        self._side_polygons = {side: [] for side in _FACES}
        self.bottom_arrow_2d = []

    def initialize_box_from_annotation(self, csBbox3dAnnotation, coordinate_system=CRS_V):
        """Set the box from a ``CsBbox3d`` (dims, rotation, center)."""
        a = csBbox3dAnnotation
        self.initialize_box(a.dims, a.rotation, a.center, coordinate_system=coordinate_system)

    def initialize_box(self, size, quaternion, center, coordinate_system=CRS_V):
        """Set the box from its size (L, W, H), rotation quaternion [w, x, y, z] and centre in ``coordinate_system``."""
        rotation = Quaternion(quaternion)
        center = np.array(center, dtype=float)
        if coordinate_system == CRS_S:
            permutation = get_K_multiplier()
            center = np.matmul(permutation.T, center)
            image_axes = Quaternion(matrix=permutation)
            rotation = image_axes.inverse * rotation * image_axes
        if coordinate_system in (CRS_C, CRS_S):
            homogeneous = np.ones((4, 1))
            homogeneous[:3, 0] = center
            center = np.matmul(np.linalg.inv(self._sensor_T_4x4()), homogeneous)[:3, 0]
            rotation = Quaternion(matrix=self._sensor_T_4x4()[:3, :3]).inverse * rotation
        self._size = np.array(size, dtype=float)
        self._rotation_matrix = np.array(rotation.rotation_matrix)
        self._center = center
        self.update()

    def _sensor_T_4x4(self):
        transform = np.eye(4)
        transform[:3, :] = np.asarray(self._camera.sensor_T_ISO_8855, dtype=float)
        return transform

    def update(self):
        """Recompute corners, projections and cropped sides from size, rotation and centre."""
        vertices = box_vertices(self._size[None], self._rotation_matrix[None], self._center[None])
        self._box_points_3d_vehicle = vertices[0]
        self._box_points_3d_cam = vehicle_to_sensor(vertices, self._camera)[0]
        self._box_points_2d = project(self._box_points_3d_cam[None], self._camera)[0]
        self._side_polygons = {side: _crop_and_project(self._box_points_3d_cam[corners], self._camera)
                               for side, corners in _FACES.items()}
        # from the middle of the front edge to the front left corner's neighbour on the back
        arrow = np.array([0.5 * (vertices[0, 3] + vertices[0, 2]), 0.5 * (vertices[0, 3] + vertices[0, 1])])
        self.bottom_arrow_2d = _crop_and_project(vehicle_to_sensor(arrow[None], self._camera)[0], self._camera)

    def get_vertices(self, coordinate_system=CRS_V):
        """Corners by name (``self.loc``) in V, C or S."""
        points = self._box_points_3d_vehicle
        if coordinate_system in (CRS_C, CRS_S):
            points = apply_transformation_points(points, self._camera.sensor_T_ISO_8855)
        if coordinate_system == CRS_S:
            points = np.matmul(get_K_multiplier(), points.T).T
        return dict(zip(self.loc, points))

    def get_vertices_2d(self):
        """Projected corners by name (also those behind the camera, uncropped)."""
        return dict(zip(self.loc, self._box_points_2d))

    def get_parameters(self, coordinate_system=CRS_V):
        """``(size, center, Quaternion)`` of the box in V, C or S."""
        rotation = Quaternion(matrix=self._rotation_matrix)
        center = self._center
        if coordinate_system in (CRS_C, CRS_S):
            homogeneous = np.ones((4, 1))
            homogeneous[:3, 0] = center
            center = np.matmul(self._sensor_T_4x4(), homogeneous)[:3, 0]
            rotation = Quaternion(matrix=self._sensor_T_4x4()[:3, :3]) * rotation
        if coordinate_system == CRS_S:
            permutation = get_K_multiplier()
            center = np.matmul(permutation, center)
            image_axes = Quaternion(matrix=permutation)
            rotation = image_axes * rotation * image_axes.inverse
        return self._size, center, rotation

    def get_all_side_visibilities(self):
        """Whether each side faces the camera: [front, back, top, bottom, left, right]."""
        permutation = get_K_multiplier()
        axes = np.matmul(np.matmul(permutation, self._rotation_matrix), permutation.T)
        p = self._box_points_3d_cam
        sides = [((p[3] + p[6]) / 2, axes[:, 2]), ((p[0] + p[5]) / 2, -axes[:, 2]),
                 ((p[7] + p[5]) / 2, -axes[:, 1]), ((p[0] + p[2]) / 2, axes[:, 1]),
                 ((p[0] + p[7]) / 2, -axes[:, 0]), ((p[1] + p[6]) / 2, axes[:, 0])]
        return [bool(np.dot(normal, centre) < 0) for centre, normal in sides]

    def get_all_side_polygons_2d(self):
        """Closed image polygons of the sides cut at the camera plane: [front, back, top, bottom, left, right]."""
        return [self._side_polygons[side] for side in ("front", "back", "top", "bottom", "left", "right")]

    def get_amodal_box_2d(self):
        """``[xmin, ymin, xmax, ymax]`` enclosing the visible part of the box, clipped to the image."""
        return amodal_boxes_2d(self._box_points_3d_cam[None], self._camera)[0].tolist()
