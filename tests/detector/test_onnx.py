"""The bring-your-own-model path: a small ONNX graph shaped like a YOLOv8 export, built
here with the `onnx` package and run by onnxruntime (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from roost_detector.plugins import ModelError, make_detector
from roost_detector.plugins.onnx import OnnxConfig, parse_names
from roost_detector.settings import DetectorSection

SIZE = 640
# Three candidates in model (letterboxed 640×640) pixels: cx, cy, w, h.
BOXES = np.array(
    [
        [320, 320, 100, 200],  # a person in the middle
        [100, 150, 80, 60],  # a car at the top left
        [325, 320, 100, 200],  # the same person again, a little weaker: NMS drops it
    ],
    dtype=np.float32,
)
# Class scores are the picture's mean brightness (0–1) times these weights, so a bright
# frame has detections and a dark one has none: the graph really reads its input.
WEIGHTS = np.array([[1.0, 0.0, 0.9], [0.0, 0.5, 0.0]], dtype=np.float32)  # [classes, N]


def yolo_like_model(path: Path, *, names: str | None, transposed: bool = False) -> Path:
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    rows = 4 + WEIGHTS.shape[0]
    count = BOXES.shape[0]
    shape = [1, count, rows] if transposed else [1, rows, count]
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, shape)
    constants = {
        "boxes": BOXES.T[None],  # [1, 4, N]
        "weights": WEIGHTS[None],  # [1, classes, N]
        "one_one_one": np.array([1, 1, 1], dtype=np.int64),
    }
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], keepdims=1),
        helper.make_node("Reshape", ["mean4", "one_one_one"], ["mean"]),
        helper.make_node("Mul", ["mean", "weights"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["rows" if transposed else "output0"],
                         axis=1),
    ]  # fmt: skip
    if transposed:
        nodes.append(helper.make_node("Transpose", ["rows"], ["output0"], perm=[0, 2, 1]))
    graph = helper.make_graph(
        nodes,
        "yolo-like",
        [images],
        [output],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names, "task": "detect"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_yolo_export_runs_with_letterbox_nms_and_metadata_labels(tmp_path: Path) -> None:
    path = yolo_like_model(tmp_path / "yolo.onnx", names="{0: 'person', 1: 'car'}")
    detector = make_detector(OnnxConfig(path=path))
    assert detector.labels == ["person", "car"]

    bright = np.full((480, 640, 3), 255, np.uint8)  # letterboxed: 80 px of grey above/below
    found = sorted(detector.detect(bright), key=lambda d: d.label)
    assert [d.label for d in found] == ["car", "person"]
    car, person = found
    # Model box centre (320, 320) is frame (320, 240): the letterbox's 80 px come off.
    assert person.box == (270, 140, 370, 340)
    assert car.box == (60, 40, 140, 100)
    mean = (480 * 640 + 160 * 640 * 114 / 255) / (640 * 640)
    assert person.score == pytest.approx(mean, abs=1e-3)
    assert car.score == pytest.approx(mean * 0.5, abs=1e-3)

    dark = np.zeros((480, 640, 3), np.uint8)
    assert detector.detect(dark) == []  # mean ≈ 0.11: under the 0.25 threshold


def test_transposed_output_and_a_labels_file(tmp_path: Path) -> None:
    path = yolo_like_model(tmp_path / "yolo.onnx", names=None, transposed=True)
    labels = tmp_path / "labels.txt"
    labels.write_text("visitor\nvan\n")
    detector = make_detector(OnnxConfig(path=path, labels=labels))
    assert detector.labels == ["visitor", "van"]
    found = detector.detect(np.full((640, 640, 3), 255, np.uint8))
    assert sorted(d.label for d in found) == ["van", "visitor"]
    # Without labels anywhere, classes are numbered.
    assert make_detector(OnnxConfig(path=path)).labels == ["class0", "class1"]


def test_model_from_config_and_clear_errors(tmp_path: Path) -> None:
    path = yolo_like_model(tmp_path / "yolo.onnx", names="{0: 'person', 1: 'car'}")
    section = DetectorSection.model_validate({"model": {"type": "onnx", "path": str(path)}})
    assert isinstance(section.model, OnnxConfig)
    assert make_detector(section.model).labels == ["person", "car"]
    with pytest.raises(ModelError, match="does not exist"):
        make_detector(OnnxConfig(path=tmp_path / "missing.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        make_detector(OnnxConfig(path=tmp_path / "junk.onnx"))
    assert parse_names("['a', 'b']") == ["a", "b"]
