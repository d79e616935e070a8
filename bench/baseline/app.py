"""Peer baseline for `soyl bench --baseline`: the design soyl replaces, as the original API guide
describes it. A FastAPI app that answers each request synchronously with one ONNX Runtime call per
image (face detector) and one per face (expression model), no queue and no batching across
requests. Same models and the same preprocessing as soyl (models/src/face/, the manifests in
models/repository/). Not part of the product: it exists only to be measured against.

    BASELINE_MODELS=models/repository uvicorn app:app --app-dir bench/baseline --port 8000
    curl -F file=@../shared/media/faces/happy.jpg http://127.0.0.1:8000/analyze
"""

import io
import os
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, File, HTTPException, UploadFile
from PIL import Image, ImageOps

ort.set_default_logger_severity(3)  # errors only: the detector lists unused initializers
MODELS = Path(os.environ.get("BASELINE_MODELS", "models/repository"))
MIN_FACE_PX = 20
MAX_FACES = 32


def load(name):
    """The manifest and an ONNX Runtime session of one model folder (default session options)."""
    manifest = tomllib.loads((MODELS / name / "model.toml").read_text())
    session = ort.InferenceSession(str(MODELS / name / manifest["file"]), providers=["CPUExecutionProvider"])
    return manifest, session


DET, DET_SESSION = load("face-detector")
EMO, EMO_SESSION = load("face-emotion")
LABELS = EMO["classifier"]["labels"]
app = FastAPI(title="soyl peer baseline")


def detector_input(rgb):
    """RGB resized to the detector input (bilinear, as soyl's triangle filter), (px - mean) / std, NCHW."""
    pre = DET["image"]
    small = rgb.resize((pre["width"], pre["height"]), Image.BILINEAR)
    x = (np.asarray(small, dtype=np.float32) - pre["mean"]) / pre["std"]
    return x.transpose(2, 0, 1)[None]


def detect(rgb):
    """Faces above the score threshold, after NMS, in original pixels, most confident first."""
    settings = DET["detector"]
    scores, boxes = DET_SESSION.run(None, {"input": detector_input(rgb)})
    w, h = rgb.size
    keep = scores[0, :, 1] > settings["score_threshold"]
    conf = scores[0, keep, 1]
    b = boxes[0, keep] * np.array([w, h, w, h], dtype=np.float32)
    b = np.clip(b, 0, [w, h, w, h])
    order = np.argsort(-conf, kind="stable")
    kept = []
    for i in order:
        x1, y1, x2, y2 = b[i]
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        if all(iou(b[i], b[k]) <= settings["iou_threshold"] for k in kept):
            kept.append(i)
    return [(b[i], float(conf[i])) for i in kept]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union <= 0 else inter / union


def emotion(gray, box):
    """The square crop around the box, 64x64 grayscale, (px - mean) / std, one session call."""
    pre = EMO["image"]
    iw, ih = gray.size
    x1, y1, x2, y2 = box
    side = max(1.0, min(max(x2 - x1, y2 - y1), iw, ih))
    x = min(max((x1 + x2) / 2 - side / 2, 0), iw - side)
    y = min(max((y1 + y2) / 2 - side / 2, 0), ih - side)
    crop = gray.crop((int(x), int(y), int(x) + int(side), int(y) + int(side)))
    face = crop.resize((pre["width"], pre["height"]), Image.BILINEAR)
    t = (np.asarray(face, dtype=np.float32) - pre["mean"]) / pre["std"]
    (scores,) = EMO_SESSION.run(None, {"input": t[None, None]})
    return {label: round(float(p), 4) for label, p in zip(LABELS, scores[0])}


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/analyze")
def analyze(file: UploadFile = File(...)):
    """Detects and reads every face of one uploaded image, synchronously."""
    try:
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(file.file.read())))
        rgb = img.convert("RGB")
    except Exception as e:  # noqa: BLE001 - any decoder error is the client's bad input
        raise HTTPException(status_code=422, detail=f"cannot decode image: {e}")
    gray = rgb.convert("L")
    faces = []
    for box, score in detect(rgb):
        if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_PX or len(faces) >= MAX_FACES:
            continue
        emotions = emotion(gray, box)
        faces.append({
            "box": {"x": float(box[0]), "y": float(box[1]), "w": float(box[2] - box[0]), "h": float(box[3] - box[1])},
            "detection": round(score, 4),
            "emotions": emotions,
            "top": max(emotions, key=emotions.get),
        })
    return {"width": rgb.size[0], "height": rgb.size[1], "faces": faces}
