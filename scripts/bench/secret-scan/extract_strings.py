#!/usr/bin/env python3
"""The strings the secret detector scans, from `mcpsonar -r FILE --payloads` events.

SecretDetector (Sources/Detect/Secrets/SecretDetector.swift) scans every member name and every
string value of each MCP message, at any depth, member name before its value. This writes them in
that order, for every `mcp` event carrying a `message`, as records of a 4-byte little-endian
length and the UTF-8 bytes (what vs_scan.c and `mcpsonar bench --secrets-strings` read).

With --secrets FILE (Fixtures/detect/fake-secrets.json), a share of the strings (--share, 1 % by
default, chosen with --seed) get one of the fake secrets spliced in at a random place, between
spaces, so that the scanners find and validate matches too.

usage: extract_strings.py EVENTS.json -o STRINGS.bin [--secrets FAKES.json --share 0.01 --seed 1]
"""
import argparse
import json
import random
import struct
import sys


def walk(node, out):
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            out.append(key)
            walk(value, out)
    elif isinstance(node, list):
        for item in node:
            walk(item, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--secrets", help="fake-secrets.json: splice its values into --share of the strings")
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    fakes = []
    if args.secrets:
        with open(args.secrets, encoding="utf-8") as f:
            fakes = [v for v in json.load(f)["values"].values() if isinstance(v, str)]
    rng = random.Random(args.seed)
    messages = strings = spliced = size = 0
    with open(args.events, encoding="utf-8") as f, open(args.output, "wb") as out:
        for line in f:
            event = json.loads(line)
            message = (event.get("mcp") or {}).get("message") if event.get("event_type") == "mcp" else None
            if message is None:
                continue
            messages += 1
            found = []
            walk(message, found)
            for s in found:
                if fakes and rng.random() < args.share:
                    k = rng.randrange(len(s) + 1)
                    s = s[:k] + " " + rng.choice(fakes) + " " + s[k:]
                    spliced += 1
                b = s.encode("utf-8")
                out.write(struct.pack("<I", len(b)))
                out.write(b)
                strings += 1
                size += len(b)
    print(f"{args.output}: {messages} messages, {strings} strings, {size} bytes, {spliced} with a fake secret",
          file=sys.stderr)


if __name__ == "__main__":
    main()
