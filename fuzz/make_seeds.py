#!/usr/bin/env python3
"""Writes the fuzz targets' committed seed corpora, fuzz/seeds/<target>/, from the hostile-input
corpus generator (tests/hostile/make_corpus.py) and small cuts of the repository's own media.
Seeds stay small (a few KB each): libFuzzer grows its working corpus from them in fuzz/corpus/.

    fuzz/make_seeds.py      # rewrite fuzz/seeds/
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
import make_corpus as mc  # noqa: E402


def read(path, limit=None):
    with open(os.path.join(ROOT, path), "rb") as f:
        data = f.read()
    return data if limit is None else data[:limit]


def seeds():
    jpeg_head = read("../shared/media/faces/happy.jpg", 3000)
    multipart = mc.BOUNDARY
    mc.BOUNDARY = "XyZ"  # the boundary the multipart target declares
    forms = {
        "file_text_options": mc.form(mc.file_part("a.png", mc.small_png()[:200]),
                                     mc.field_part("text", b"What a lovely day"),
                                     mc.field_part("options", b'{"fuse": false, "text": {"granularity": "sentence"}}')),
        "traversal_name": mc.form(mc.file_part("../../etc/passwd", b"RIFF")),
        "unterminated": b"--XyZ\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi",
    }
    mc.BOUNDARY = multipart
    return {
        "image_decode": {
            "small.png": mc.small_png(),
            "header_50000.png": mc.png(50000, 50000, b"x\x9c\x03\x00\x00\x00\x00\x01"),
            "happy_head.jpg": jpeg_head,
            "vp8x.webp": mc.webp_vp8x(640, 480),
        },
        "audio_decode": {
            "pcm16.wav": mc.wav(frames=400),
            "float_nan.wav": mc.wav_nan_floats()[:600],
            "flac_streaminfo.flac": mc.flac_bad_streaminfo(),
            "ogg.ogg": mc.ogg_garbage(),
            "id3.mp3": mc.mp3_garbage()[:1500],
            "m4a_boxes.m4a": mc.m4a_huge_boxes(),
            "alac.m4a": read("models/testdata/voice/alac.m4a"),
        },
        "text_preprocess": {
            "sentences.txt": "I love it. But the ending? Terrible!\r\nStill: 10/10 😀".encode(),
            "combining.txt": "e\u0301e\u0301 \u05e9\u05dc\u05d5\u05dd. [CLS] [SEP] \x00\x01".encode(),
            "invalid_utf8.txt": b"happy \xff\xfe\xc3\x28 sad",
        },
        "json_submission": {
            "texts.json": json.dumps({"inputs": [{"text": "hi"}, {"text": "bye"}],
                                      "options": {"fuse": True, "priority": "bulk",
                                                  "metadata": {"a": [1, 2]}}}).encode(),
            "nested.json": mc.nested_json(200),
            "bad_option.json": b'{"inputs": [{"text": "x"}], "options": {"bogus": 1}}',
        },
        "multipart_submission": forms,
    }


def main():
    for target, files in seeds().items():
        folder = os.path.join(HERE, "seeds", target)
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    print("seeds written to", os.path.join(HERE, "seeds"))


if __name__ == "__main__":
    main()
