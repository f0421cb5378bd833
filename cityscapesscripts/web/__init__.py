"""Local web apps: the shared server (server.py), csViewer (viewer.py) and their static pages."""
