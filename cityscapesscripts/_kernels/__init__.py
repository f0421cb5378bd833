"""The compiled kernels, one extension per concern: ``png`` (PNG codecs and pixel tables) and ``count``
(evaluation counting); ``rows.pxd`` holds the row unfilter both inline.  Called through
:mod:`cityscapesscripts.kernels` only, which checks the arguments and holds the NumPy twins."""
