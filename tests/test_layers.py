"""The package's folders depend on each other one way, and nothing imports a program's face.

Faces are the modules at the original's paths: each keeps the original's
names and hands its work to the modules below, so it may import any of them.
A face lives where the original put it, not where its layer is:
``annotation/cityscapesLabelTool.py`` starts the label tool of ``web/``,
whose editing model is ``annotation/editing.py``.  So the imports of faces
are left out of the folder graph, and every other import, also one inside a
function, is an arrow of it.
"""
import ast
import json
import os

import cityscapesscripts

PACKAGE = os.path.dirname(cityscapesscripts.__file__)
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "original_namespaces.json")) as f:
    ORIGINAL_MODULES = set(json.load(f))
# the original's two Qt programs, now pages served by web/
PROGRAMS = {"annotation.cityscapesLabelTool", "viewer.cityscapesViewer"}
FACES = ORIGINAL_MODULES | PROGRAMS


def modules():
    """``{module name below the package: path}`` of every module of the package."""
    found = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), PACKAGE)[:-3].replace(os.sep, ".")
                found[rel[:-len(".__init__")] if rel.endswith("__init__") else rel] = os.path.join(folder, name)
    return found


def imports_of(module, path, known):
    """The package's modules that ``module`` imports anywhere in its file (names below the package)."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                names = ["cityscapesscripts" + ("." + base if base else "")]
            else:
                names = [node.module]
            names += [f"{names[0]}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("cityscapesscripts."):
                name = name[len("cityscapesscripts."):]
                if name in known:
                    found.add(name)
    return found


def folder_of(module):
    return module.split(".")[0]


def test_folders_import_each_other_one_way():
    known = modules()
    arrows = {}
    for module, path in known.items():
        if module in FACES:
            continue
        for target in imports_of(module, path, known):
            if folder_of(target) != folder_of(module):
                arrows.setdefault(folder_of(module), set()).add(folder_of(target))
    assert arrows["web"] >= {"annotation"}  # the label tool's server uses the editing model
    cycles = []

    def visit(folder, trail):
        for target in sorted(arrows.get(folder, ())):
            if target in trail:
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in done:
                visit(target, trail + [target])
        done.add(folder)

    done = set()
    for folder in sorted(arrows):
        if folder not in done:
            visit(folder, [folder])
    assert not cycles, cycles


def test_no_module_imports_a_program_face():
    known = modules()
    importers = {module: sorted(imports_of(module, path, known) & PROGRAMS) for module, path in known.items()}
    assert {module: faces for module, faces in importers.items() if faces} == {}
