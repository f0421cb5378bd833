"""The original's ``cityscapesLabelTool`` module: now a web app (:mod:`cityscapesscripts.web.labeltool`).

``csLabelTool [ROOT] [--host H] [--port P] [--no-browser]`` serves the editor
on 127.0.0.1 and opens it in a browser.
"""
import sys

from cityscapesscripts.web.labeltool import main

if __name__ == "__main__":
    sys.exit(main())
