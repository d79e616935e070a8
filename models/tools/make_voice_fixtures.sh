#!/usr/bin/env bash
# Makes the voice-pipeline test fixtures in models/testdata/voice/ from synthesised speech.
# Run by hand when the fixtures must change; the outputs are committed (small files, < 1.5 MB in
# all), so the tests need none of these tools.
# Needs: espeak-ng, sox (with libsox-fmt-all), ffmpeg, python3 (standard library only).
# Debian: apt-get install -y espeak-ng sox ffmpeg libsox-fmt-all
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/testdata/voice"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

text="The quick brown fox jumps over the lazy dog, and then it runs away."

# One utterance at espeak-ng's defaults, 16 kHz mono, in every supported format.
espeak-ng -v en-us -w "$tmp/raw.wav" "$text"
sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$out/speech-pcm16.wav"
sox "$tmp/raw.wav" -r 16000 -c 1 -b 24 "$out/speech-pcm24.wav"
sox "$tmp/raw.wav" -r 16000 -c 1 -e floating-point -b 32 "$out/speech-float32.wav"
sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$out/speech.flac"
ffmpeg -v error -y -i "$out/speech-pcm16.wav" -c:a libmp3lame -b:a 32k "$out/speech.mp3"
ffmpeg -v error -y -i "$out/speech-pcm16.wav" -c:a libvorbis -q:a 0 "$out/speech.ogg"
ffmpeg -v error -y -i "$out/speech-pcm16.wav" -c:a aac -b:a 32k "$out/speech.m4a"

# Two deliveries of the same text for the arousal heuristic: loud, fast and high-pitched against
# quiet, slow and low-pitched (espeak-ng amplitude 0..200, speed in words per minute, pitch 0..99).
espeak-ng -v en-us -a 190 -s 240 -p 90 -w "$tmp/aroused.wav" "$text"
espeak-ng -v en-us -a 25 -s 110 -p 10 -w "$tmp/calm.wav" "$text"
sox "$tmp/aroused.wav" -r 16000 -c 1 -b 16 "$out/aroused.flac"
sox "$tmp/calm.wav" -r 16000 -c 1 -b 16 "$out/calm.flac"

# Bad inputs, each refused with its own error code.
: > "$out/empty.wav"
head -c 4096 /dev/urandom > "$out/random.bin"
# A codec soyl does not decode (ALAC in M4A), 0.3 s of tone.
ffmpeg -v error -y -f lavfi -i sine=frequency=220:duration=0.3:sample_rate=8000 -c:a alac "$out/alac.m4a"
# The first third of the MP3: its Xing header still declares the whole length.
size=$(stat -c %s "$out/speech.mp3")
head -c $((size / 3)) "$out/speech.mp3" > "$out/truncated.mp3"
python3 - "$out" <<'PY'
import struct, sys, math
out = sys.argv[1]

def wav(path, channels, rate, frames, data_bytes_claimed=None):
    data = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) * channels
        for i in range(frames))
    claimed = len(data) if data_bytes_claimed is None else data_bytes_claimed
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", claimed) + data
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", min(4 + len(riff) - len(data) + claimed, 0xFFFFFFFF)) + riff)

# A header that claims 10 hours of 16 kHz mono (1.15 GB) in front of one second of samples.
wav(f"{out}/ten-hours.wav", 1, 16000, 16000, data_bytes_claimed=10 * 3600 * 16000 * 2)
# 96 channels, 10 ms.
wav(f"{out}/ninety-six-channels.wav", 96, 8000, 80)
PY
ls -l "$out"
du -sh "$out"
