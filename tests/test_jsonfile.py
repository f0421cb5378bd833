"""JSON parsing with msgspec (the test extra installs it) gives the standard library's values and errors."""
import json
import math

import pytest

from cityscapesscripts.errors import AnnotationError
from cityscapesscripts.io import jsonfile

DOCUMENTS = [
    b'{"imgHeight": 1024, "imgWidth": 2048, "objects": [{"label": "car", "polygon": [[1, 2], [3.5, -4e2]]}]}',
    b'{"a": 1, "a": 2}', b'-0', b'-0.0', b'0.1', b'5e-324', b'1.7976931348623157e308', b'2.2250738585072011e-308',
    b'18446744073709551616', b'-9223372036854775809', b'123456789012345678901234567890.5',
    b'1e400', b'-1e400', b'NaN', b'[Infinity, -Infinity]', b'"\\ud800"', b'"\\u00e9 \xc3\xa9"', b'"\\u0000"',
    b' {"x" : [ ] } \r\n', b'[true, false, null, ""]',
]
BAD = [b'\xef\xbb\xbf{}', b'[1,2,]', b'"a\tb"', b'01', b'{1: 2}', b'\xff', b'[]x', b'', b'"\xc3"']


def _same(a, b):
    """Equal values of equal types, NaN equal to NaN, all the way down."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return repr(a) == repr(b)


def _stdlib(data):
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as e:
        return type(e), str(e)


def _ours(data):
    try:
        return jsonfile.loads(data)
    except ValueError as e:
        return type(e), str(e)


def test_msgspec_is_installed_for_the_tests():
    assert jsonfile._fast_parser() is not None, "the test extra installs msgspec, so both parsers are tested"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("data", DOCUMENTS + BAD)
def test_values_and_errors_are_the_standard_librarys(data, fast, monkeypatch):
    monkeypatch.setattr(jsonfile, "FAST_FROM", 0 if fast else float("inf"))
    assert _same(_ours(data), _stdlib(data))
    if _valid_utf8(data):  # text in, as Annotation.fromJsonText passes it
        assert _same(_ours(data.decode("utf-8")), _stdlib(data))


def _valid_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_read_json_names_the_file(tmp_path):
    path = tmp_path / "frame_gtFine_polygons.json"
    path.write_bytes(b'{"objects": [1, 2,]}')
    with pytest.raises(AnnotationError, match="frame_gtFine_polygons.json: not valid JSON: Expecting value: line 1"):
        jsonfile.read_json(str(path), AnnotationError)
    path.write_bytes(b'{"imgWidth": 1e999}')
    assert jsonfile.read_json(str(path), AnnotationError) == {"imgWidth": math.inf}


def test_short_texts_go_to_the_standard_library(monkeypatch):
    monkeypatch.setattr(jsonfile, "json", None)  # any use of the standard library fails
    with pytest.raises(AttributeError):
        jsonfile.loads(b"[1]")
    monkeypatch.setattr(jsonfile, "FAST_FROM", 3)
    assert jsonfile.loads(b"[1]") == [1]
