"""Bytecode of the package under test written before timing, as ``pip install`` writes it.

An editable install run with ``PYTHONDONTWRITEBYTECODE`` set (as on some CI and development
machines) never caches its modules, so every tool start compiles them again: about 40 ms of a
console script's start-up, which a user's installed package does not pay.
"""
import subprocess
import sys

_COMPILE = ("import compileall, os, cityscapesscripts; "
            "compileall.compile_dir(os.path.dirname(cityscapesscripts.__file__), quiet=1)")


def compile_package(python: str = sys.executable) -> None:
    """Write the ``__pycache__`` of the cityscapesscripts that ``python`` imports."""
    subprocess.run([python, "-c", _COMPILE], check=True)
