#!/usr/bin/env python3
"""Rebuild NotoSansSC-Bold-GB2312.otf, the watermark font, from Debian's fonts-noto-cjk.

    apt-get install -y fonts-noto-cjk && pip install fonttools
    python3 app/core/assets/fonts/make_subset.py

The character set is every character of GB 2312 (its 6763 hanzi plus its
punctuation, full-width forms, Greek, Cyrillic, kana and symbols), printable
ASCII, and a short list of characters outside GB 2312 that are common in
personal and company names. Characters outside the subset are drawn as the
font's .notdef box, never dropped silently.
"""
import os
import subprocess
import sys
import tempfile

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FACE = 2  # index of "Noto Sans CJK SC Bold" in the collection
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "NotoSansSC-Bold-GB2312.otf")

# Common in names but missing from GB 2312 (checked below: entries that are in
# GB 2312 already are harmless duplicates).
NAME_EXTRAS = (
    "堃喆昇赟玥珺瑄璟翀淏昉旻晞昶暐炘烜焜煜熠燊犇琛琨琪瑛璇祎垚淼焱钰铖镕彧婕婧妤嫣"
    "琰瑾玮祺骞奕弢晗珈芃湉溱沄沣滢龑堉锟颢頔浛玙琇珩珣璐瑀瑭璨瓒甯皓睿瞿砺禛竑"
    "筠翊翚翯翾聿肜芮苒茜荟莘菡萱蒨蓁蔚蕴薇谌谞赜跶逯邝郗鄞钊铠铮锴镛闫阚隽雯霁霈"
    "靓靖韪颀飏馨骅骐骢鲲鹍鹏麒黛"
    "·•–—‘’“”…‰℃№←→↑↓±×÷°′″"
)


def charset():
    chars = set(chr(c) for c in range(0x20, 0x7F))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    hanzi = sum(1 for c in chars if "\u4e00" <= c <= "\u9fff")
    assert hanzi == 6763, hanzi
    chars.update(NAME_EXTRAS)
    return "".join(sorted(chars))


def main():
    text = charset()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(text)
        text_file = f.name
    try:
        subprocess.run(
            [
                sys.executable, "-m", "fontTools.subset", SOURCE,
                f"--font-number={FACE}",
                f"--text-file={text_file}",
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
