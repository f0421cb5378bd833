"""The package version, where the original kept it (``python helpers/version.py`` prints it)."""
import os  # noqa: F401  (the original module's namespace)

from cityscapesscripts import __version__ as version

if __name__ == "__main__":
    print(version)
