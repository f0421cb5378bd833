"""Names of a module's namespace imported when first asked for.

The compat modules keep the original's namespaces (``np``, ``printError``,
``Image``, ...) for downstream code, but the batch tools that live in them need
not pay for importing NumPy or Pillow at every start: such names are listed
here and imported on first access (attribute access and ``from module import
name`` alike).
"""
import importlib
import sys


def lazy_names(module_name, sources):
    """A module ``__getattr__`` for ``sources``: ``{name: "package.module"}`` (the module itself)
    or ``{name: "package.module:attribute"}``; the value is kept in the module once imported."""
    def __getattr__(name):
        if name not in sources:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module, _, attribute = sources[name].partition(":")
        value = importlib.import_module(module)
        if attribute:
            value = getattr(value, attribute)
        setattr(sys.modules[module_name], name, value)
        return value
    return __getattr__


def star_import(module_name, source):
    """What ``from source import *`` gives, put into module ``module_name`` now, except the names that
    ``source`` itself imports when first asked for (its ``LAZY_NAMES``, ``{name: "package.module"}``):
    the returned module ``__getattr__`` imports those on first access, as ``source`` does."""
    module = importlib.import_module(source)
    lazy = getattr(module, "LAZY_NAMES", {})
    target = sys.modules[module_name]
    for name in module.__all__:
        if name not in lazy:
            setattr(target, name, getattr(module, name))
    return lazy_names(module_name, lazy)
