"""The README's code blocks run as written.

Blocks run in document order in one empty folder, each in a fresh process, with this
interpreter's console scripts on ``PATH``.  Not run: the first block (it installs the
package), blocks whose first line is a comment starting with ``# needs`` (a cluster or a
framework), shell blocks naming ``/data/`` (the reader's own Cityscapes tree), and
``json`` blocks (file formats).
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BLOCK = re.compile(r"^ *```(\w+)\n(.*?)^ *```", re.S | re.M)
INSTALL = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/csDemo"
TEST = "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest"


def blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return [(lang, re.sub(r"(?m)^ {2}", "", code)) for lang, code in BLOCK.findall(text)]


def runnable(lang, code):
    if lang not in ("python", "bash") or code.lstrip().startswith("# needs"):
        return False
    return lang == "python" or "/data/" not in code


def test_the_first_lines_are_the_two_commands_and_ci_runs_the_second():
    first = blocks()[0]
    assert first == ("bash", f"{INSTALL}\n{TEST}\n")
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        assert f.read().rstrip().splitlines()[-1] == TEST


def test_python_blocks_import_what_they_use():
    """A block that uses a module imports it (the README once used ``glob`` without importing it)."""
    for lang, code in blocks():
        if lang != "python":
            continue
        for module in ("glob", "os", "json", "np", "functools", "torch"):
            if re.search(rf"\b{module}\.", code):
                assert re.search(rf"^(import .*\b{module}\b|from \S+ import .*\b{module}\b)", code, re.M), (module, code)


def test_no_words_about_how_the_project_was_made():
    texts = [README] + [os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                        if f.endswith(".md")]
    for path in texts:
        with open(path, encoding="utf-8") as f:
            text = f.read().lower()
        for phrase in ("we were given", "other engineers", "this 2-core machine", "the session",
                       "cityscapesscripts[", "world_size ="):
            assert phrase not in text, (path, phrase)


def test_every_console_script_is_in_the_table_with_its_module():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        scripts = dict(re.findall(r'"(cs\w+) = cityscapesscripts\.([\w.]+):main"', f.read()))
    with open(README, encoding="utf-8") as f:
        rows = dict(re.findall(r"^\| `(cs\w+)` \| `([\w.]+)` \| [^|]*[a-z][^|]* \|$", f.read(), re.M))
    assert rows == scripts


def _run_blocks(folder):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for name in ("CITYSCAPES_DATASET", "CITYSCAPES_RESULTS"):
        env.pop(name, None)
    if os.path.isfile(os.path.join(sys.prefix, "bin", "activate")):
        os.symlink(sys.prefix, os.path.join(folder, ".venv"))  # the quick start activates ./.venv
    outputs = []
    for lang, code in blocks()[1:]:
        if not runnable(lang, code):
            continue
        if lang == "bash" and not os.path.exists(os.path.join(folder, ".venv")):
            code = code.replace(". .venv/bin/activate\n", "")
        command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, (code, done.stdout[-3000:], done.stderr[-3000:])
        outputs.append((code, done.stdout, done.stderr))
    return outputs


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    return _run_blocks(str(tmp_path_factory.mktemp("readme")))


def test_the_quick_start_and_every_example_run_as_written(readme_run):
    ran = " ".join(code for code, _, _ in readme_run)
    for step in ("csSampleDataset", "csCreatePanopticImgs", "--train-ids", "my_results/instance",
                 "my_results/panoptic", "SemanticAccumulator", "E.evaluateImgLists"):
        assert step in ran


def test_the_examples_score_what_they_say(readme_run):
    def output_of(fragment):
        return next(out + err for code, out, err in readme_run if fragment in code)
    # the prediction-format examples write the ground truth itself: perfect scores, and no warning
    pixel = output_of("--pred my_results/semantic --train-ids")
    assert re.search(r"Score Average : 1\.000", pixel) and "WARNING" not in pixel
    assert re.search(r"average\s*:\s*1\.000", output_of("--pred my_results/instance"))
    assert re.search(r"All\s*\|\s*100\.0", output_of("--prediction-json-file my_results/panoptic"))
    assert float(output_of("E.evaluateImgLists").split()[-1]) > 0.5
