"""The original module path of csViewer (now a local web app, see cityscapesscripts.web)."""
