"""One ground-truth instance of an ``instanceIds`` image (the original's ``Instance``)."""
import json

import numpy as np


class Instance:
    """An instance id of an image with its label id and pixel count.

    ``Instance(imgNp, instID)`` counts the pixels of ``instID`` in ``imgNp``;
    ``Instance(None, -1)`` makes an empty one to fill with :meth:`fromJSON`.
    """
    instID = 0
    labelID = 0
    pixelCount = 0
    medDist = -1
    distConf = 0.0

    def __init__(self, imgNp, instID):
        if instID == -1:
            return
        self.instID = int(instID)
        self.labelID = int(self.getLabelID(instID))
        self.pixelCount = int(self.getInstancePixels(imgNp, instID))

    def getLabelID(self, instID):
        return instID if instID < 1000 else int(instID // 1000)

    def getInstancePixels(self, imgNp, instLabel):
        return int(np.count_nonzero(np.asarray(imgNp) == instLabel))

    def toJSON(self):
        return json.dumps(self.toDict(), sort_keys=True, indent=4)

    def toDict(self):
        return {"instID": self.instID, "labelID": self.labelID, "pixelCount": self.pixelCount,
                "medDist": self.medDist, "distConf": self.distConf}

    def fromJSON(self, data):
        self.instID = int(data["instID"])
        self.labelID = int(data["labelID"])
        self.pixelCount = int(data["pixelCount"])
        if "medDist" in data:
            self.medDist = float(data["medDist"])
            self.distConf = float(data["distConf"])

    def __str__(self):
        return f"({self.instID})"
