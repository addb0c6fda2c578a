#!/usr/bin/env python3
"""Build each example's Jupyter notebook (.ipynb) from its script, so that the two never differ.

    python3 examples/python/make_notebooks.py            # rewrite every notebook next to its script
    python3 examples/python/make_notebooks.py --check    # exit 1 if a notebook is not up to date
    python3 examples/python/make_notebooks.py --out-dir DIR [SCRIPT.py ...]

A script is split into cells at its `# %%` lines (the "percent" format editors such as VS Code
and Spyder run cell by cell). A `# %% [markdown]` cell is a comment block whose lines start
with `# ` (or are a lone `#`): they become markdown without the `# `. Every other cell is code,
without its marker line and the blank lines around it. Lines before the first marker (the
shebang, how to run the script) stay out of the notebook. The notebook has no outputs and the
python3 kernel; it is nbformat 4 JSON written with the json module (nbformat is not needed),
with cell ids made from the script's name and the cell's place, so that the same script always
gives the same bytes.
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def cells_of(text, name="script"):
    """The script's cells: a list of (kind, lines), kind "markdown" or "code"."""
    cells, kind, lines = [], None, []

    def close():
        if kind is None:
            return  # the preamble before the first marker
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            cells.append((kind, list(lines)))

    for number, line in enumerate(text.splitlines(), 1):
        m = MARKER.match(line)
        if m:
            close()
            kind = "markdown" if m.group("rest").strip() == "[markdown]" else "code"
            lines = []
            continue
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.rstrip() == "#" or not line.strip():
                line = ""
            else:
                raise ValueError(f"{name}:{number}: a markdown cell's lines start with '# ': {line!r}")
        lines.append(line)
    close()
    if not cells:
        raise ValueError(f"{name}: no '# %%' cells")
    return cells


def source(lines):
    """nbformat's multi-line string: one string per line, each but the last ending in a newline."""
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def notebook(text, name="script"):
    """The notebook (a dict of nbformat 4.5) of the script's text."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", Path(name).stem)[:50]
    cells = []
    for i, (kind, lines) in enumerate(cells_of(text, name)):
        cell = {"cell_type": kind, "id": f"{stem}-{i}", "metadata": {}, "source": source(lines)}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(script):
    """The .ipynb file's text for a script path."""
    script = Path(script)
    nb = notebook(script.read_text(encoding="utf-8"), script.name)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def scripts_here():
    """The examples in this folder: every .py with cell markers, but this one."""
    return sorted(p for p in HERE.glob("*.py")
                  if p.name != Path(__file__).name
                  and any(MARKER.match(line) for line in p.read_text(encoding="utf-8").splitlines()))


def main(argv):
    check = "--check" in argv
    out_dir = None
    args = [a for a in argv if a != "--check"]
    if "--out-dir" in args:
        i = args.index("--out-dir")
        if i + 1 >= len(args):
            print("--out-dir needs a folder", file=sys.stderr)
            return 2
        out_dir = Path(args[i + 1])
        del args[i:i + 2]
    if any(a.startswith("-") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    scripts = [Path(a) for a in args] or scripts_here()
    stale = []
    for script in scripts:
        text = notebook_text(script)
        target = (out_dir or script.parent) / (script.stem + ".ipynb")
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    for target in stale:
        print(f"{target} is not what its script gives: run {Path(__file__).name}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
