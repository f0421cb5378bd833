"""csDownload: fetch the packages of the Cityscapes website (``downloader``), unpack them safely (``extract``)."""
