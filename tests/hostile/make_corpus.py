#!/usr/bin/env python3
"""Generates soyl's hostile-input corpus: files built to crash, exhaust or confuse a media service
(image and decompression bombs, truncated and corrupt images, polyglots, audio with absurd headers,
zip bombs, huge and invalid text, deeply nested JSON, path traversal in multipart file names, huge
part counts), and the HTTP request that delivers each one.

    make_corpus.py OUT_DIR [--jpeg PATH]     # PATH: a real JPEG to damage (default: the shared happy.jpg)

Writes OUT_DIR/files/<name> (the payloads), OUT_DIR/requests/<case>.body (the request bodies) and
OUT_DIR/cases.json, a list of {name, file, path, content_type, body, expect, codes}: `expect` is
"rejected" (a 4xx with a code, or a failed job with a code), "succeeded" (harmless content behind a
hostile wrapper) or "terminal" (either, as long as it ends cleanly); `codes`, when not empty, lists
the acceptable error codes. tests/tests/hostile.rs runs the corpus against `soyl serve`.
Python standard library only.
"""

import argparse
import io
import json
import os
import struct
import zipfile
import zlib

BOUNDARY = "soylHostileBoundary7MA4YWxk"
ESCAPE_NAME = "soyl-hostile-escape.png"


# ---------------------------------------------------------------- images

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width, height, idat, color=2, depth=8, extra=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def png_zeros(width, height, color, depth, channels):
    """A real PNG of all-zero pixels; zeros compress ~1000:1, so this is a decompression bomb."""
    row = b"\x00" * (1 + width * channels * depth // 8)
    z = zlib.compressobj(9)
    out = [z.compress(row) for _ in range(height)]
    out.append(z.flush())
    return png(width, height, b"".join(out), color=color, depth=depth)


def small_png():
    """A valid 64x64 grey PNG: harmless content for the wrappers around it."""
    return png_zeros(64, 64, color=0, depth=8, channels=1)


def jpeg_with_size(jpeg, width, height):
    """The JPEG with every start-of-frame marker patched to declare width x height."""
    out = bytearray(jpeg)
    i = 2
    while i + 9 < len(out):
        if out[i] != 0xFF:
            i += 1
            continue
        marker = out[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", out, i + 5, height, width)
        if marker == 0xDA:
            break
        i += 2 + struct.unpack(">H", out[i + 2:i + 4])[0]
    return bytes(out)


def corrupt_scan(jpeg):
    """Overwrites the middle of the entropy-coded data with 0xFF 0xD0.. (bogus restart markers)."""
    out = bytearray(jpeg)
    start = jpeg.rfind(b"\xff\xda") + 20
    for i in range(start, min(start + 2000, len(out) - 4), 2):
        out[i], out[i + 1] = 0xFF, 0xD0 + (i % 8)
    return bytes(out)


def webp_vp8x(width, height):
    vp8x = struct.pack("<I", 0) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---------------------------------------------------------------- audio

def wav(channels=1, rate=16000, bits=16, frames=16000, fmt_tag=1, data_size=None,
        block_align=None, byte_rate=None, data=None, fmt_size=16):
    align = channels * bits // 8 if block_align is None else block_align
    if data is None:
        data = bytes(((i * 7) & 0xFF) for i in range(frames * max(align, 1)))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels & 0xFFFF, rate,
                      rate * align if byte_rate is None else byte_rate, align & 0xFFFF, bits)
    fmt_chunk = b"fmt " + struct.pack("<I", fmt_size) + fmt
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + fmt_chunk + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", min(len(body), 0xFFFFFFFF)) + body


def wav_nan_floats():
    data = struct.pack("<4f", float("nan"), float("inf"), float("-inf"), 1e38) * 4000
    return wav(fmt_tag=3, bits=32, data=data)


def flac_bad_streaminfo():
    # STREAMINFO with sample rate 0, 0 channels and 2^36-1 samples.
    info = bytearray(34)
    struct.pack_into(">HH", info, 0, 4096, 4096)
    info[10:18] = bytes([0x00, 0x00, 0x00, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF])
    return b"fLaC" + bytes([0x80, 0, 0, 34]) + bytes(info) + b"\xff\xf8" + b"\x00" * 64


def mp3_garbage():
    # An ID3v2 tag declaring 256 MB, then MPEG frame sync words over noise.
    return b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + (b"\xff\xfb\x90\x64" + bytes(range(256)) * 2) * 40


def ogg_garbage():
    page = b"OggS\x00\x02" + b"\x00" * 8 + b"\x01\x00\x00\x00" + b"\x00" * 8 + b"\x01\xff"
    return page + b"\x01vorbis" + b"\xff" * 300


def m4a_huge_boxes():
    ftyp = struct.pack(">I", 20) + b"ftypM4A " + b"\x00\x00\x00\x00" + b"M4A "
    moov = struct.pack(">I", 1) + b"moov" + struct.pack(">Q", 2 ** 62) + b"\x00" * 64
    return ftyp + moov


# ---------------------------------------------------------------- archives and text

def zip_bomb(megabytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as f:
            block = b"\x00" * (1 << 20)
            for _ in range(megabytes):
                f.write(block)
    return buf.getvalue()


def nested_json(levels):
    return ('{"metadata": ' + "[" * levels + "]" * levels + "}").encode()


# ---------------------------------------------------------------- requests

def part(headers, content):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"--{BOUNDARY}\r\n".encode() + head.encode("utf-8", "surrogateescape") + b"\r\n" + content + b"\r\n"


def file_part(filename, content, content_type="application/octet-stream", name="file"):
    disposition = f'form-data; name="{name}"; filename="{filename}"'
    return part([("Content-Disposition", disposition), ("Content-Type", content_type)], content)


def field_part(name, content):
    return part([("Content-Disposition", f'form-data; name="{name}"')], content)


def form(*parts):
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class Corpus:
    def __init__(self, out):
        self.out = out
        self.cases = []
        os.makedirs(os.path.join(out, "files"), exist_ok=True)
        os.makedirs(os.path.join(out, "requests"), exist_ok=True)

    def add(self, name, payload, body, expect, codes=(), content_type=MULTIPART, path="/v1/jobs"):
        with open(os.path.join(self.out, "files", name), "wb") as f:
            f.write(payload)
        body_name = os.path.join("requests", name + ".body")
        with open(os.path.join(self.out, body_name), "wb") as f:
            f.write(body)
        self.cases.append({"name": name, "file": os.path.join("files", name), "path": path,
                           "content_type": content_type, "body": body_name, "expect": expect,
                           "codes": list(codes)})

    def upload(self, name, payload, expect, codes=(), content_type="application/octet-stream",
               filename=None):
        """The payload as the one file of a multipart job."""
        body = form(file_part(filename or name, payload, content_type))
        self.add(name, payload, body, expect, codes)

    def write_index(self):
        with open(os.path.join(self.out, "cases.json"), "w") as f:
            json.dump(self.cases, f, indent=1)


def build(out, jpeg):
    c = Corpus(out)
    tiny = small_png()
    too_large = ["image_too_large"]
    corrupt_img = ["image_corrupt"]

    # Image bombs and damaged images.
    c.upload("png_header_50000x50000.png", png(50000, 50000, zlib.compress(b"\x00" * 64)),
             "rejected", too_large)
    c.upload("jpeg_sof_50000x50000.jpg", jpeg_with_size(jpeg, 50000, 50000), "rejected", too_large)
    c.upload("jpeg_sof_65535x65535.jpg", jpeg_with_size(jpeg, 65535, 65535), "rejected", too_large)
    c.upload("jpeg_sof_0x0.jpg", jpeg_with_size(jpeg, 0, 0), "rejected")
    c.upload("webp_vp8x_16384x16384.webp", webp_vp8x(16384, 16384), "rejected")
    c.upload("png_bomb_6000x6000_rgba16.png", png_zeros(6000, 6000, 6, 16, 4), "terminal")
    c.upload("png_bomb_6000x6000_rgba8.png", png_zeros(6000, 6000, 6, 8, 4), "terminal")
    c.upload("png_ztxt_bomb.png",
             png(64, 64, zlib.compress(b"\x00" * (64 * 65)), color=0,
                 extra=png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (256 << 20), 9))),
             "terminal")
    c.upload("png_truncated.png", small_png()[:60], "rejected", corrupt_img)
    c.upload("png_bad_crc.png", tiny[:-8] + b"\xde\xad\xbe\xef" + tiny[-4:], "terminal")
    c.upload("jpeg_truncated.jpg", jpeg[: len(jpeg) // 3], "rejected", corrupt_img)
    c.upload("jpeg_header_only.jpg", jpeg[: jpeg.find(b"\xff\xda")], "rejected", corrupt_img)
    c.upload("jpeg_corrupt_scan.jpg", corrupt_scan(jpeg), "terminal")
    c.upload("polyglot_jpeg_zip.jpg", jpeg + zip_bomb(1), "succeeded")
    c.upload("polyglot_gif_js.gif",
             b"GIF89a/*\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01"
             b"\x00\x00\x02\x02D\x01\x00;*/=1;alert(document.domain);//", "rejected",
             ["image_unsupported_format", "image_corrupt"])
    c.upload("zip_bomb_64mb.zip", zip_bomb(64), "rejected", ["media_unrecognized"])
    c.upload("zip_bomb_as_audio.wav", zip_bomb(64), "rejected", ["media_unrecognized"],
             content_type="audio/wav")
    c.upload("empty.jpg", b"", "rejected", ["input_empty"], content_type="image/jpeg")
    c.upload("one_byte.bin", b"\xff", "rejected", ["media_unrecognized"])

    # Wrong content types: the bytes decide, never the declared type or name.
    c.upload("wav_sent_as_jpeg.jpg", wav(), "succeeded", content_type="image/jpeg")
    c.upload("jpeg_sent_as_wav.wav", jpeg, "succeeded", content_type="audio/wav")
    c.upload("png_sent_as_text.txt", tiny, "succeeded", content_type="text/plain")

    # Audio with absurd headers.
    c.upload("wav_data_size_4gb.wav", wav(data_size=0xFFFFFFFF), "rejected")
    c.upload("wav_rate_1hz.wav", wav(rate=1, frames=16), "rejected", ["audio_sample_rate_unsupported"])
    c.upload("wav_rate_0.wav", wav(rate=0, frames=16), "rejected")
    c.upload("wav_65535_channels.wav", wav(channels=65535, frames=1), "rejected",
             ["audio_too_many_channels"])
    c.upload("wav_0_channels.wav", wav(channels=0, frames=16, block_align=2), "rejected")
    c.upload("wav_bits_0.wav", wav(bits=0, block_align=2), "rejected")
    c.upload("wav_block_align_0.wav", wav(block_align=0, data=b"\x01\x02" * 1000), "rejected")
    c.upload("wav_bits_24_align_1.wav", wav(bits=24, block_align=1, data=b"\x01" * 3000), "rejected")
    c.upload("wav_fmt_size_4gb.wav", wav(fmt_size=0xFFFFFFF0), "rejected")
    c.upload("wav_riff_header_only.wav", b"RIFF\xff\xff\xff\xffWAVE", "rejected")
    c.upload("wav_8ch_192khz_declares_10min.wav",
             wav(channels=8, rate=192000, frames=100, data_size=8 * 2 * 192000 * 600), "rejected")
    c.upload("wav_float_nan_inf.wav", wav_nan_floats(), "terminal")
    c.upload("flac_bad_streaminfo.flac", flac_bad_streaminfo(), "rejected")
    c.upload("mp3_id3_256mb_garbage.mp3", mp3_garbage(), "terminal")
    c.upload("ogg_garbage.ogg", ogg_garbage(), "rejected")
    c.upload("m4a_huge_boxes.m4a", m4a_huge_boxes(), "rejected")

    # Text.
    word = b"a" * (10 << 20)
    c.add("text_10mb_one_word.txt", word, form(field_part("text", word)), "rejected", ["text_too_long"])
    c.add("text_10mb_one_word.json", word, json.dumps({"inputs": [{"text": word.decode()}]}).encode(),
          "rejected", ["text_too_long"], content_type="application/json")
    bad_utf8 = b"I am \xff\xfe\xc3\x28 happy \xed\xa0\x80 today \xf8\x88\x80\x80\x80"
    c.add("text_invalid_utf8.txt", bad_utf8, form(field_part("text", bad_utf8)), "terminal",
          ["invalid_multipart"])
    c.add("text_invalid_utf8.json", bad_utf8, b'{"inputs": [{"text": "' + bad_utf8 + b'"}]}',
          "rejected", ["invalid_body"], content_type="application/json")
    nul_text = b"happy\x00\x00\x00" * 1000
    c.add("text_nul_bytes.txt", nul_text, form(field_part("text", nul_text)), "terminal")

    # Deeply nested JSON.
    deep = nested_json(10000)
    c.add("options_nested_10000.json", deep,
          form(file_part("tiny.png", tiny, "image/png"), field_part("options", deep)),
          "rejected", ["invalid_options"])
    c.add("body_nested_10000.json", deep,
          b'{"inputs": [{"text": "hi"}], "options": ' + deep + b"}",
          "rejected", ["invalid_body"], content_type="application/json")
    deep_modules = ('{"modules": ' + "[" * 10000 + "]" * 10000 + "}").encode()
    c.add("emotion_state_nested_10000.json", deep_modules, deep_modules, "rejected",
          content_type="application/json", path="/getEmotionState")

    # Path traversal and hostile names in multipart file names: the name is metadata only.
    for name, filename in [
        ("filename_traversal.png", "../../" + ESCAPE_NAME),
        ("filename_etc_passwd.png", "../../../../../../etc/passwd"),
        ("filename_absolute.png", "/tmp/" + ESCAPE_NAME),
        ("filename_backslashes.png", "..\\..\\..\\" + ESCAPE_NAME),
        ("filename_4kb.png", "A" * 4096 + ".png"),
    ]:
        c.upload(name, tiny, "succeeded", filename=filename)
    c.upload("filename_nul_byte.png", tiny, "terminal", ["invalid_multipart"],
             filename="evil\x00" + ESCAPE_NAME)

    # Huge part counts and malformed forms.
    empty_files = form(*[file_part(f"{i}.png", b"") for i in range(20000)])
    c.add("parts_20000_files.multipart", b"", empty_files, "rejected", ["too_many_inputs"])
    texts = form(*[field_part("text", b"x") for i in range(20000)])
    c.add("parts_20000_texts.multipart", b"", texts, "rejected", ["too_many_inputs"])
    unnamed = b"".join(part([("Content-Type", "text/plain")], b"x") for _ in range(20000))
    c.add("parts_20000_unnamed.multipart", b"", unnamed + f"--{BOUNDARY}--\r\n".encode(), "rejected",
          ["unknown_field", "invalid_multipart"])
    options = form(file_part("tiny.png", tiny, "image/png"), *[field_part("options", b"{}")] * 5000)
    c.add("parts_5000_options.multipart", b"", options, "rejected", ["invalid_options"])
    c.add("multipart_unterminated.multipart", tiny,
          f"--{BOUNDARY}\r\n".encode() + b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + tiny,
          "rejected", ["invalid_multipart"])
    huge_header = b"X-Junk: " + b"j" * (1 << 20) + b"\r\n"
    c.add("multipart_1mb_header.multipart", tiny,
          f"--{BOUNDARY}\r\n".encode() + huge_header
          + b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + tiny + b"\r\n"
          + f"--{BOUNDARY}--\r\n".encode(), "terminal", ["invalid_multipart"])
    c.add("multipart_no_boundary.multipart", tiny, form(file_part("a.png", tiny)), "rejected",
          ["invalid_multipart"], content_type="multipart/form-data")
    c.add("body_as_text_plain.txt", tiny, tiny, "rejected", ["unsupported_content_type"],
          content_type="text/plain")
    many_inputs = json.dumps({"inputs": [{"text": "x"}] * 100000}).encode()
    c.add("json_100000_inputs.json", b"", many_inputs, "rejected", ["too_many_inputs"],
          content_type="application/json")

    c.write_index()
    return c.cases


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_jpeg = os.path.join(here, "..", "..", "..", "shared", "media", "faces", "happy.jpg")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--jpeg", default=default_jpeg, help="a real JPEG to damage")
    args = parser.parse_args()
    with open(args.jpeg, "rb") as f:
        jpeg = f.read()
    cases = build(args.out, jpeg)
    print(f"{len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
