"""Names of a module's namespace imported when first asked for.

The compat modules keep the original's namespaces (``np``, ``printError``,
...) for downstream code, but the batch tools that live in them need not pay
for importing NumPy at every start: such names are listed here and imported
on first access (attribute access and ``from module import name`` alike).
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
