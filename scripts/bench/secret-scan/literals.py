#!/usr/bin/env python3
"""The literal set of the secret scanner's prefilter, from rules/secrets.yml, for vs_scan.c.

The same literals SecretScanner.Compiled builds (Sources/Detect/Secrets/SecretScanner.swift):
the prefixes of token patterns (ASCII case folded when the pattern says case_insensitive) and
the context keys of context patterns (always folded). One line per literal, "c<TAB>text" or
"i<TAB>text"; a literal used by two patterns is written twice, as the Swift tables hold it twice.

usage: literals.py [rules/secrets.yml] > literals.txt
"""
import sys

import yaml


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "rules/secrets.yml"
    # BaseLoader: every scalar stays a string (Yams reads them that way too).
    doc = yaml.load(open(path, encoding="utf-8"), Loader=yaml.BaseLoader)
    out = []
    for p in doc["patterns"]:
        folded = p.get("case_insensitive", "false") == "true"
        for prefix in p.get("prefixes", []):
            out.append(("i" if folded else "c", prefix.lower() if folded else prefix))
        for key in p.get("context_keys", []):
            out.append(("i", key.lower()))
    for flag, text in out:
        assert "\t" not in text and "\n" not in text and len(text) >= 2, text
        sys.stdout.write(f"{flag}\t{text}\n")


if __name__ == "__main__":
    main()
