"""Write the MTCNN calibration file the README's int8 example uses: faces.png as MTCNN takes it
(BGR, float 0..255, stacked to [1, H, W, 3]) and the thresholds, keyed by input name.

    python scripts/mtcnn_calib.py [../shared/graphs/faces.png] [mtcnn_calib.npz]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from graphport.verify.samples import decode_image


def main(argv: list[str]) -> int:
    image = Path(argv[0]) if argv else Path("../shared/graphs/faces.png")
    target = Path(argv[1]) if len(argv) > 1 else Path("mtcnn_calib.npz")
    pixels, _ = decode_image(image, 3, None, bgr=True, where=str(image))
    np.savez(target, input=pixels[None].astype(np.float32),
             thresholds=np.array([[0.6, 0.7, 0.7]], np.float32))
    print(f"wrote {target}: input {list(pixels[None].shape)}, thresholds [1, 3]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
