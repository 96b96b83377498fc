#!/usr/bin/env python3
"""Rebuild NotoSansSC-Regular-TGHZ.otf, Choucha's one CJK font, from Debian's fonts-noto-cjk.

    apt-get install -y fonts-noto-cjk
    pip install fonttools==4.68.0
    python3 documents/assets/fonts/make_subset.py documents/assets/fonts/tongyong-guifan-8105.txt

The character set: all 8,105 characters of 《通用规范汉字表》 (2013; the list
file holds one per line), every character of GB 2312 (its hanzi and its
punctuation, full-width forms, Greek, Cyrillic, kana and symbols), printable
ASCII, the Latin-1 letters and signs, a few characters common in names that
neither list has, and punctuation and signs the documents print. Characters
outside it are drawn as the font's .notdef box, never dropped silently.
"""
import os
import subprocess
import sys
import tempfile

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FACE = 2  # index of "Noto Sans CJK SC" in the collection
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "NotoSansSC-Regular-TGHZ.otf")

# In names but in neither list (entries in them already are harmless
# duplicates), and signs the documents and the watermark print.
EXTRAS = (
    "堃喆昇赟玥珺瑄璟翀淏昉旻晞昶暐炘烜焜煜熠燊犇琛琨琪瑛璇祎垚淼焱钰铖镕彧婕婧妤嫣"
    "㵘"
    "·•–—‘’“”…‰℃№←→↑↓±×÷°′″■□●○◆◇★☆√✓✗☑☐"
    "①②③④⑤⑥⑦⑧⑨⑩"
)


def charset(list_file):
    chars = set(chr(c) for c in range(0x20, 0x7F))
    chars.update(chr(c) for c in range(0xA0, 0x100))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    with open(list_file, encoding="utf-8") as f:
        general = [line.strip() for line in f if line.strip()]
    assert len(general) == 8105 and all(len(c) == 1 for c in general), len(general)
    chars.update(general)
    chars.update(EXTRAS)
    return "".join(sorted(chars))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = charset(sys.argv[1])
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(text)
        text_file = f.name
    try:
        subprocess.run(
            [
                sys.executable, "-m", "fontTools.subset", SOURCE,
                f"--font-number={FACE}",
                f"--text-file={text_file}",
                # Text is set one glyph per character, horizontally, with no
                # shaping: no layout tables, no vertical metrics.
                "--layout-features=",
                "--drop-tables+=vhea,vmtx,VORG,BASE,GSUB,GPOS,GDEF",
                "--name-IDs=*",
                "--name-languages=*",
                "--notdef-outline",
                f"--output-file={OUT}",
            ],
            check=True,
        )
    finally:
        os.unlink(text_file)
    print(f"{OUT}: {os.path.getsize(OUT)} bytes, {len(text)} characters requested")


if __name__ == "__main__":
    main()
