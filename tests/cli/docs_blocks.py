#!/usr/bin/python3
"""docs_blocks.py - the fenced code blocks of Markdown files, for tests/cli/test_docs.sh.

usage: docs_blocks.py OUTDIR FILE.md...

Writes each block's text to OUTDIR/NNNN (NNNN counting up over all files, in order) and one
line per block to OUTDIR/index, tab-separated: NNNN, file, line of the opening fence, language
(the fence's info word; "-" when there is none), and the skip reason ("-" when not skipped).

The convention (docs/architecture.md "The docs are tested"): a block tagged sh, bash or
console (console: its lines starting "$ " are the commands) or python is a command to
run; any other language tag (text, yaml, c, sql, ...) is not run. A block without a language
tag is an error: say what it is. A command block that cannot run as written is marked by a
comment on the line right before its fence (blank lines between allowed):
    <!-- docs-test: skip (the reason) -->
A malformed marker, or a marker before a block that is not a command, is an error too.
Exit status: 0, or 1 with the problems on stderr (file:line: ...).
"""
import os
import re
import sys

RUN = {"sh", "bash", "console", "python"}
MARK = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((.+)\)\s*-->\s*$")


def blocks(path):
    """Yields (line, lang, skip reason or None, text) per fenced block, or raises ValueError."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i, pending = 0, None
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("<!--") and "docs-test" in s:
            m = MARK.match(s)
            if not m:
                raise ValueError(f"{path}:{i + 1}: malformed marker "
                                 "(want <!-- docs-test: skip (reason) -->)")
            pending = (i + 1, m.group(1).strip())
        elif s.startswith("```"):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lang = s[3:].strip().split(" ")[0] if s[3:].strip() else "-"
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{path}:{start}: fenced block never closed")
            skip = pending[1] if pending else None
            if skip and lang not in RUN:
                raise ValueError(f"{path}:{pending[0]}: skip marker before a block that is "
                                 f"not a command ({lang})")
            pending = None
            yield start, lang, skip, "\n".join(body) + "\n"
        elif s and pending:
            raise ValueError(f"{path}:{pending[0]}: skip marker not right before a fenced block")
        i += 1


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out, n, bad = sys.argv[1], 0, 0
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "index"), "w", encoding="utf-8") as idx:
        for path in sys.argv[2:]:
            try:
                for line, lang, skip, text in blocks(path):
                    if lang == "-":
                        print(f"{path}:{line}: fenced block without a language: tag it sh/python "
                              "(run) or text/yaml/c/sql/... (not run)", file=sys.stderr)
                        bad += 1
                        continue
                    n += 1
                    name = f"{n:04d}"
                    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
                        f.write(text)
                    idx.write(f"{name}\t{path}\t{line}\t{lang}\t{skip or '-'}\n")
            except (OSError, ValueError) as e:
                print(e, file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
