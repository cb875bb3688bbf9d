"""Bring-your-own model: an ONNX export of YOLOv8 / YOLO11 run by onnxruntime.

The export layout: one input `[1, 3, S, S]` (RGB, 0–1), one output `[1, 4 + classes, N]`
(or transposed `[1, N, 4 + classes]`) of centre x, centre y, width, height in input
pixels followed by one score per class. Frames are letterboxed to S × S (grey padding,
centred, as Ultralytics does), boxes are mapped back to frame pixels and overlapping
boxes of a class are merged by NMS. Labels come from a labels file (one per line), else
from the model's `names` metadata (Ultralytics writes it), else `class0`, `class1`, ….

onnxruntime is the `onnx` extra: `pip install 'roost[onnx]'`. Nothing is downloaded.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import Field

from roost_detector.detection import Detection, Pixels, nms
from roost_detector.plugins.base import ModelConfig, ModelError, ObjectDetector

PAD = 114


class OnnxConfig(ModelConfig):
    type: Literal["onnx"] = "onnx"
    path: Path
    labels: Path | None = Field(default=None, description="a text file, one label per line")
    input_size: int = Field(default=640, ge=32, description="used when the model's is dynamic")
    score_threshold: float = Field(default=0.25, ge=0, le=1)
    nms: float = Field(default=0.45, gt=0, le=1)
    threads: int = Field(default=1, ge=1, le=64)
    providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"])


def parse_names(text: str) -> list[str]:
    """Ultralytics' `names` metadata: `{0: 'person', 1: 'bicycle'}` (or a JSON list)."""
    value = ast.literal_eval(text)
    if isinstance(value, dict):
        return [str(value[key]) for key in sorted(value)]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise ValueError("names is neither a dict nor a list")


def letterbox(frame: Pixels, size: int) -> tuple[npt.NDArray[np.float32], float, int, int]:
    """The model input for `frame`, and the scale and padding to map boxes back."""
    height, width = frame.shape[:2]
    scale = min(size / width, size / height)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), PAD, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    rgb = canvas[:, :, ::-1].transpose(2, 0, 1)
    blob = np.ascontiguousarray(rgb, dtype=np.float32)[None] / np.float32(255.0)
    return blob, scale, pad_x, pad_y


class OnnxDetector(ObjectDetector, config=OnnxConfig):
    def __init__(self, config: OnnxConfig) -> None:
        self.config = config
        try:
            ort: Any = importlib.import_module("onnxruntime")
        except ImportError:
            raise ModelError(
                "the onnx model needs onnxruntime: pip install 'roost[onnx]'"
            ) from None
        if not config.path.is_file():
            raise ModelError(f"ONNX model {config.path} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(config.path), sess_options=options, providers=config.providers
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load ONNX model {config.path}: {exc}") from None
        model_input = self.session.get_inputs()[0]
        self.input_name: str = model_input.name
        shape = model_input.shape
        if len(shape) != 4:
            raise ModelError(f"{config.path}: input {shape} is not [1, 3, S, S]")
        static = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.size = int(shape[2]) if static else config.input_size
        self._labels = self._read_labels()

    def _read_labels(self) -> list[str]:
        cfg = self.config
        if cfg.labels is not None:
            try:
                lines = cfg.labels.read_text().splitlines()
            except OSError as exc:
                raise ModelError(f"labels file {cfg.labels}: {exc.strerror}") from None
            return [line.strip() for line in lines if line.strip()]
        meta = self.session.get_modelmeta().custom_metadata_map
        if "names" in meta:
            try:
                return parse_names(meta["names"])
            except (ValueError, SyntaxError) as exc:
                raise ModelError(f"{cfg.path}: unreadable names metadata: {exc}") from None
        outputs = self.session.get_outputs()[0].shape
        # [1, 4 + classes, anchors]: the anchors (8400 at 640) outnumber the rows.
        fits = [d - 4 for d in outputs[1:] if isinstance(d, int) and d > 4]
        classes = min(fits) if fits else 0
        if classes < 1:
            raise ModelError(f"{cfg.path}: no labels file, no names metadata, output {outputs}")
        return [f"class{i}" for i in range(classes)]

    @property
    def labels(self) -> list[str]:
        return self._labels

    def detect(self, frame: Pixels) -> list[Detection]:
        blob, scale, pad_x, pad_y = letterbox(frame, self.size)
        try:
            output = self.session.run(None, {self.input_name: blob})[0]
        except Exception as exc:
            raise ModelError(f"ONNX inference failed: {exc}") from None
        rows = np.asarray(output, dtype=np.float32)[0]
        attributes = 4 + len(self._labels)
        if rows.shape[0] == attributes and rows.shape[1] != attributes:
            rows = rows.T  # [4 + classes, N] → [N, 4 + classes]
        if rows.ndim != 2 or rows.shape[1] != attributes:
            raise ModelError(
                f"output {output.shape} does not fit {len(self._labels)} labels (4 + classes)"
            )
        scores = rows[:, 4:]
        classes = scores.argmax(axis=1)
        best = scores[np.arange(len(rows)), classes]
        keep = best >= self.config.score_threshold
        height, width = frame.shape[:2]
        found = []
        for (cx, cy, w, h), cls, score in zip(
            rows[keep, :4], classes[keep], best[keep], strict=True
        ):
            x1 = (float(cx) - float(w) / 2 - pad_x) / scale
            y1 = (float(cy) - float(h) / 2 - pad_y) / scale
            x2 = (float(cx) + float(w) / 2 - pad_x) / scale
            y2 = (float(cy) + float(h) / 2 - pad_y) / scale
            box = (
                max(0, round(x1)),
                max(0, round(y1)),
                min(width, round(x2)),
                min(height, round(y2)),
            )
            found.append(Detection(self._labels[int(cls)], float(score), box))
        return nms(found, self.config.nms)

    def describe(self) -> str:
        return f"ONNX {self.config.path.name} ({self.size}×{self.size}, {len(self._labels)} labels)"
