"""Write fixtures/spoken_keywords.npz: the ten keywords of the ARM keyword spotters
(../shared/graphs/third-party) spoken by speech synthesizers, as 1 s, 16 kHz clips.

A keyword spotter judged on tones and noise is judged on near ties: nothing in such a clip is a
word, so its top two classes are close and any rounding flips them. These clips are words, which
the float models recognise (most of them, with a wide margin), so int8 is measured on what the
models are for. Made by two synthesizers other people wrote, in several voices:

    apt-get install espeak-ng flite
    python scripts/make_spoken_keywords.py

Each clip is trimmed of silence, centred in one second and stored in 8-bit mu-law, as telephone
audio is (G.711's curve; the fixture stays under the size fixtures are held to): ``audio``
[N, 16000] int8, ``word``, ``voice``; ``decode`` turns it back into samples in -1..1. ``voice``
names the synthesizer and its settings; the tests calibrate on some voices and test on the
others.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
RATE = 16000
VOICES = {  # name -> command line before the word; "{wav}" is the file written
    "espeak-ng en-us+f3 s150": ["espeak-ng", "-v", "en-us+f3", "-s", "150", "-w", "{wav}"],
    "flite kal": ["flite", "-voice", "kal", "-o", "{wav}", "-t"],
    "espeak-ng en-us s160": ["espeak-ng", "-v", "en-us", "-s", "160", "-w", "{wav}"],
    "espeak-ng en-gb s140": ["espeak-ng", "-v", "en-gb", "-s", "140", "-w", "{wav}"],
    "flite rms": ["flite", "-voice", "rms", "-o", "{wav}", "-t"],
    "flite slt": ["flite", "-voice", "slt", "-o", "{wav}", "-t"],
}


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as clip:
        rate = clip.getframerate()
        audio = np.frombuffer(clip.readframes(clip.getnframes()), np.int16) / 32768.0
    if rate != RATE:
        common = gcd(RATE, rate)
        audio = resample_poly(audio, RATE // common, rate // common)
    return audio


def _clip(command: list[str], word: str, scratch: Path) -> np.ndarray:
    """One word, trimmed to where it is audible and centred in one second."""
    wav = scratch / "word.wav"
    subprocess.run([part.format(wav=wav) for part in command] + [word], check=True,
                   capture_output=True)
    audio = _read(wav)
    audible = np.nonzero(np.abs(audio) > 0.01)[0]
    audio = audio[audible[0]:audible[-1] + 1][:RATE]
    pad = RATE - len(audio)
    return np.pad(audio, (pad // 2, pad - pad // 2))


def encode(audio: np.ndarray) -> np.ndarray:
    """Samples in -1..1 -> 8-bit mu-law codes."""
    curved = np.sign(audio) * np.log1p(255 * np.abs(audio)) / np.log(256)
    return np.round(np.clip(curved, -1, 1) * 127).astype(np.int8)


def decode(codes: np.ndarray) -> np.ndarray:
    """8-bit mu-law codes -> float32 samples in -1..1."""
    curved = codes.astype(np.float32) / 127
    return (np.sign(curved) * np.expm1(np.abs(curved) * np.log(256)) / 255).astype(np.float32)


def main() -> None:
    clips, words, voices = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for voice, command in VOICES.items():
            for word in WORDS:
                clips.append(_clip(command, word, Path(scratch)))
                words.append(word)
                voices.append(voice)
    audio = encode(np.stack(clips))
    target = ROOT / "fixtures" / "spoken_keywords.npz"
    np.savez_compressed(target, audio=audio, word=np.array(words), voice=np.array(voices))
    print(f"wrote {target} ({len(clips)} clips, {target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
