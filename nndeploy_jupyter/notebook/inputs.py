"""In-memory inputs: a numpy array, a PIL image, bytes or a local file become a file a graph's Input node reads.

A ``str`` is a path on the server (``resources/...``), used as it is. Anything else is uploaded by the Client
through the files API into a folder of its own, ``resources/inputs/<uuid>/``, and the node's ``path_`` points at
it; the server removes such folders after ``input_retention_hours``. Arrays are taken as RGB (or RGBA, or grey),
as :meth:`Task.images` returns them, and written losslessly as PNG; a ``pathlib.Path`` is a file on the
notebook's side, uploaded under its own name.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from ..workspace import INPUTS_FOLDER

# Leading bytes of the formats nndeploy's decoders read, to name uploaded bytes (OpenCV's readers go by content,
# the video decoder by the name's suffix).
_SIGNATURES = ((b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"BM", ".bmp"), (b"RIFF", ".avi"),
               (b"GIF8", ".gif"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


def needs_upload(value: Any) -> bool:
    """Whether ``value`` is data to upload rather than a path (a ``str``) already on the server."""
    return not isinstance(value, str)


def input_folder() -> str:
    """A fresh folder for one input, as the upload API names it (relative to ``resources/``)."""
    return f"{INPUTS_FOLDER}/{uuid.uuid4()}"


def encode_input(value: Any) -> tuple[str, bytes]:
    """``(filename, content)`` for an input to upload: PNG for arrays and PIL images, bytes and local files as
    they are."""
    if isinstance(value, Path):
        return value.name, value.read_bytes()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        suffix = next((s for magic, s in _SIGNATURES if data.startswith(magic)), ".bin")
        return f"input{suffix}", data
    if type(value).__module__.startswith("PIL."):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return "input.png", buffer.getvalue()
    if hasattr(value, "__array_interface__"):
        return "input.png", _png_of_array(value)
    raise TypeError(f"an input must be a path (str: on the server, Path: a local file), a numpy array, a PIL image "
                    f"or bytes, not {type(value).__name__}")


def describe(value: Any) -> str:
    """How a results table names an input."""
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"<array {'x'.join(map(str, value.shape))} {value.dtype}>"
    size = getattr(value, "size", None)
    return f"<{type(value).__name__} {size[0]}x{size[1]}>" if isinstance(size, tuple) else f"<{type(value).__name__}>"


def _png_of_array(array: Any) -> bytes:
    import cv2
    import numpy as np

    image = np.asarray(array)
    if image.dtype != np.uint8 and image.dtype != np.uint16:
        raise TypeError(f"an image array must be uint8 or uint16, not {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    elif image.ndim != 2 and not (image.ndim == 3 and image.shape[2] == 1):
        raise TypeError(f"an image array must be HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA), not {image.shape}")
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"OpenCV could not encode the array {image.shape} as PNG")
    return encoded.tobytes()
