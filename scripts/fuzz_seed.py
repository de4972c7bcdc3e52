#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (Sources/Fuzz) from the fixtures.

    python3 scripts/fuzz_seed.py OUT_DIR [--target NAME]   # OUT_DIR/NAME/<sha1> per input
    python3 scripts/fuzz_seed.py --curate                   # rewrite the small committed Fuzz/seeds

Needs dpkt (scripts/fixtures/requirements.txt). Streams are rebuilt from the fixture captures
(clean, in-order recordings: duplicates by sequence number are dropped) and written in the input
formats the targets document: `StreamSteps` (0xFE escapes: FE FE literal, FE 00 switch direction,
FE 01 cut) for decoder/http/sse/websocket, an operation list for reassembly, a selector byte and
file text for rules, whole files for capture.
"""
import glob
import hashlib
import os
import random
import struct
import sys

import dpkt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Fixtures")
TARGETS = ["decoder", "reassembly", "http", "sse", "websocket", "json", "rules", "capture"]
MAX_LEN = {"decoder": 8192, "reassembly": 8192, "sse": 8192, "rules": 8192,
           "http": 16384, "websocket": 16384, "json": 16384, "capture": 65536}
# DecoderFuzz.linkTypes, in order.
LINK_TYPES = [1, 113, 276, 0, 108, 12, 14, 101, 228, 229, 147]
# WebSocketFuzz.extensionChoices, in order (None last).
WS_EXTENSIONS = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; unknown_parameter",
    "permessage-deflate, permessage-deflate; client_no_context_takeover",
    "x-webkit-deflate-frame",
    None,
]
RULE_SELECTOR = {"secrets.yml": 3, "content.yml": 4, "methods.yml": 5, "policy.yml": 6, "egress.yml": 7}

SWITCH, CUT = b"\xfe\x00", b"\xfe\x01"


def esc(b):
    return b.replace(b"\xfe", b"\xfe\xfe")


def captures(pattern="**/*.pcap*"):
    return sorted(glob.glob(os.path.join(FIX, pattern), recursive=True))


def read_packets(path):
    try:
        with open(path, "rb") as f:
            r = dpkt.pcap.UniversalReader(f)
            return r.datalink(), [bytes(buf) for _, buf in r]
    except Exception:
        return None, []


def ip_of(linktype, frame):
    try:
        if linktype == 1:
            eth = dpkt.ethernet.Ethernet(frame)
            return eth.data if isinstance(eth.data, (dpkt.ip.IP, dpkt.ip6.IP6)) else None
        if linktype == 113:
            return dpkt.sll.SLL(frame).data
        if linktype in (0, 108):
            b = frame[4:]
        elif linktype in (12, 14, 101, 228, 229):
            b = frame
        elif linktype == 276:
            b = frame[20:]
        else:
            return None
        return dpkt.ip.IP(b) if b and b[0] >> 4 == 4 else dpkt.ip6.IP6(b)
    except Exception:
        return None


def connections(path):
    """TCP connections of a capture: [(direction 0 client→server / 1, payload)], duplicates dropped."""
    linktype, frames = read_packets(path)
    conns, order = {}, []
    for frame in frames:
        ip = ip_of(linktype, frame)
        if ip is None or not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        tcp = ip.data
        a, b = (ip.src, tcp.sport), (ip.dst, tcp.dport)
        key = (min(a, b), max(a, b))
        c = conns.get(key)
        if c is None:
            syn_only = tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK
            client = a if syn_only or tcp.sport > tcp.dport else b
            c = conns[key] = {"client": client, "segs": [], "end": [None, None]}
            order.append(key)
        d = 0 if a == c["client"] else 1
        data = bytes(tcp.data)
        if not data:
            continue
        end = (tcp.seq + len(data)) & 0xFFFFFFFF
        last = c["end"][d]
        if last is not None and ((end - last) & 0xFFFFFFFF) > 0x7FFFFFFF or end == last:
            continue  # retransmission
        c["end"][d] = end
        c["segs"].append((d, data))
    return [conns[k]["segs"] for k in order if conns[k]["segs"]]


def steps(segs, limit):
    """Segments as StreamSteps bytes: FE 00 when the direction changes, FE 01 between segments."""
    out, cur = b"", 0
    for d, data in segs:
        piece = (SWITCH if d != cur else (CUT if out else b"")) + esc(data)
        cur = d
        if len(out) + len(piece) > limit:
            break
        out += piece
    return out


def split_head(stream):
    i = stream.find(b"\r\n\r\n")
    return (stream[:i + 4], stream[i + 4:]) if i >= 0 else (stream, b"")


def dechunk(body):
    out, i = b"", 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return out
        try:
            n = int(body[i:j].split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            return out
        out += body[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def seeds_decoder():
    out = []
    for path in captures():
        linktype, frames = read_packets(path)
        if linktype not in LINK_TYPES or not frames:
            continue
        sel = bytes([LINK_TYPES.index(linktype)])
        for start in range(0, min(len(frames), 60), 3):
            out.append(sel + CUT.join(esc(f) for f in frames[start:start + 3]))
    # IPv4 and IPv6 fragments of one UDP datagram (raw IP link type), in order and reversed.
    payload = bytes(range(256)) * 8
    udp = struct.pack("!HHHH", 5353, 53, 8 + len(payload), 0) + payload
    frags4 = []
    for off in range(0, len(udp), 512):
        part = udp[off:off + 512]
        more = 0x2000 if off + 512 < len(udp) else 0
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(part), 7, more | (off // 8), 64, 17, 0,
                          bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        frags4.append(hdr + part)
    raw = bytes([LINK_TYPES.index(12)])
    out.append(raw + CUT.join(esc(f) for f in frags4))
    out.append(raw + CUT.join(esc(f) for f in reversed(frags4)))
    frags6 = []
    for off in range(0, len(udp), 512):
        part = udp[off:off + 512]
        more = 1 if off + 512 < len(udp) else 0
        fh = struct.pack("!BBHI", 17, 0, off | more, 99)
        hdr = struct.pack("!IHBB16s16s", 0x60000000, len(fh) + len(part), 44, 64,
                          bytes(15) + b"\x01", bytes(15) + b"\x02")
        frags6.append(hdr + fh + part)
    out.append(raw + CUT.join(esc(f) for f in frags6))
    return out


def seeds_reassembly(n=60):
    rng = random.Random(8)
    out = []
    for k in range(n):
        isn = [rng.choice([0, 1000, 0xFFFFFF00, 0x7FFFFFF0, rng.getrandbits(32)]) for _ in range(2)]
        b = struct.pack("<II", *isn)
        ops = rng.randint(3, 40)
        for i in range(ops):
            d = rng.randint(0, 1)
            r = rng.random()
            if i == 0:
                b += bytes([d, 0x02]) + struct.pack("<h", -1) + bytes([0])  # SYN
            elif r < 0.75:
                flags = 0x10 | (0x08 if rng.random() < 0.5 else 0)
                if rng.random() < 0.05:
                    flags |= 0x01
                if rng.random() < 0.02:
                    flags |= 0x04
                delta = rng.choice([0, 0, 0, rng.randint(-300, 300), rng.randint(-5, 5)])
                big = rng.random() < 0.2
                from_input = rng.random() < 0.15
                op = d | (2 if from_input else 0) | (0x20 if big else 0)
                length = rng.randint(0, 255)
                b += bytes([op, flags]) + struct.pack("<h", delta) + bytes([length])
                b += bytes([rng.randint(0, 255)])  # ACK delta (flags always have ACK here)
                if from_input:
                    b += bytes(rng.getrandbits(8) for _ in range(length * (16 if big else 1)))
            elif r < 0.9:
                b += bytes([d | 0x08, rng.randint(0, 255)])  # bare ACK
            else:
                b += bytes([d | 0x0C | (rng.randint(0, 15) << 4)])  # close / bypass / end
        out.append(b[:MAX_LEN["reassembly"]])
    return out


def all_connections():
    for path in captures():
        for segs in connections(path):
            yield path, segs


def seeds_http():
    out = []
    for _, segs in all_connections():
        s = steps(segs, MAX_LEN["http"])
        if s:
            out.append(s)
    return out


def streams(segs):
    a = b"".join(data for d, data in segs if d == 0)
    b = b"".join(data for d, data in segs if d == 1)
    return a, b


def seeds_sse():
    out = []
    rng = random.Random(5)
    for _, segs in all_connections():
        _, server = streams(segs)
        head, body = split_head(server)
        if b"text/event-stream" not in head.lower():
            continue
        if b"chunked" in head.lower():
            body = dechunk(body)
        body = body[:MAX_LEN["sse"] // 2]
        if not body:
            continue
        out.append(esc(body))
        cut, i = b"", 0
        while i < len(body):
            j = i + rng.randint(1, 200)
            cut += (CUT if cut else b"") + esc(body[i:j])
            i = j
        out.append(cut)
    return out


def seeds_websocket():
    out = []
    for _, segs in all_connections():
        client, server = streams(segs)
        if b"upgrade: websocket" not in client.lower() or b" 101 " not in server[:64]:
            continue
        chead, _ = split_head(client)
        shead, _ = split_head(server)
        ext = None
        for line in shead.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-extensions:"):
                ext = line.split(b":", 1)[1].strip().decode("latin-1")
        sel = WS_EXTENSIONS.index(ext) if ext in WS_EXTENSIONS else (0 if ext and "permessage-deflate" in ext else len(WS_EXTENSIONS) - 1)
        skip = [len(chead), len(shead)]
        frames = []
        for d, data in segs:
            if skip[d] >= len(data):
                skip[d] -= len(data)
                continue
            frames.append((d, data[skip[d]:]))
            skip[d] = 0
        s = steps(frames, MAX_LEN["websocket"] - 1)
        if s:
            out.append(bytes([sel]) + s)
    return out


def seeds_json():
    out = set()
    for _, segs in all_connections():
        client, server = streams(segs)
        for stream in (client, server):
            for line in stream.split(b"\n"):
                line = line.strip(b"\r")
                if line.startswith(b"data:"):
                    line = line[5:].strip()
                if line[:1] in (b"{", b"[") and len(line) <= MAX_LEN["json"]:
                    out.add(line)
            for part in stream.split(b"\r\n\r\n"):
                if part[:1] in (b"{", b"[") and len(part) <= MAX_LEN["json"]:
                    out.add(part.split(b"POST ")[0].split(b"HTTP/1.1 ")[0])
    for path in glob.glob(os.path.join(FIX, "expected", "*.jsonl"))[:20]:
        with open(path, "rb") as f:
            for line in f.read().split(b"\n")[:40]:
                if line.strip() and len(line) <= MAX_LEN["json"]:
                    out.add(line)
    for path in glob.glob(os.path.join(FIX, "detect", "*.json")):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) <= MAX_LEN["json"]:
            out.add(data)
    return sorted(out)


def seeds_rules():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "rules", "sigma", "*.yml"))):
        with open(path, "rb") as f:
            out.append(b"\x00" + f.read()[:MAX_LEN["rules"] - 1])
    for name, sel in RULE_SELECTOR.items():
        with open(os.path.join(ROOT, "rules", name), "rb") as f:
            text = f.read()
        out.append(bytes([sel]) + text[:MAX_LEN["rules"] - 1])
        # Each top-level entry of a long file on its own, so small seeds cover every section.
        blocks = text.split(b"\n  - ")
        for k in range(1, len(blocks)):
            out.append(bytes([sel]) + (blocks[0] + b"\n  - " + blocks[k])[:MAX_LEN["rules"] - 1])
    return out


def seeds_capture():
    out = []
    for path in captures():
        with open(path, "rb") as f:
            data = f.read()
        if len(data) <= MAX_LEN["capture"]:
            out.append(data)
        else:
            out.append(data[:MAX_LEN["capture"]])  # cut mid-packet: a truncated capture
        out.append(data[:4096])
        if data[:4] == b"\x0a\x0d\x0d\x0a":
            out.append(data[:1500])  # pcapng cut inside a block
    return out


GENERATORS = {
    "decoder": seeds_decoder, "reassembly": seeds_reassembly, "http": seeds_http, "sse": seeds_sse,
    "websocket": seeds_websocket, "json": seeds_json, "rules": seeds_rules, "capture": seeds_capture,
}


def write(out_dir, target, inputs):
    d = os.path.join(out_dir, target)
    os.makedirs(d, exist_ok=True)
    n = 0
    for data in inputs:
        data = data[:MAX_LEN[target]]
        name = hashlib.sha1(data).hexdigest()
        p = os.path.join(d, name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
            n += 1
    return n


def curate():
    """A few small, varied seeds per target (a few KB each) for Fuzz/seeds, committed."""
    budget = 8192
    for target in TARGETS:
        inputs = GENERATORS[target]()
        d = os.path.join(ROOT, "Fuzz", "seeds", target)
        os.makedirs(d, exist_ok=True)
        for old in glob.glob(os.path.join(d, "*")):
            os.remove(old)
        # Spread over the list (different captures), smallest first within budget.
        rng = random.Random(1)
        pool = sorted(set(x[:MAX_LEN[target]] for x in inputs), key=len)
        picked, total = [], 0
        candidates = [x for x in pool if len(x) <= 3000]
        rng.shuffle(candidates)
        # A cut pcapng first, so that damaged pcapng blocks are among the committed seeds.
        ng = [x for x in candidates if x[:4] == b"\x0a\x0d\x0d\x0a"][:1]
        candidates = ng + [x for x in candidates if x[:4] != b"\x0a\x0d\x0d\x0a"]
        for x in candidates:
            if total + len(x) > budget or len(picked) >= 8:
                continue
            picked.append(x)
            total += len(x)
        for i, x in enumerate(sorted(picked, key=len)):
            with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
                f.write(x)
        print("%-10s %d seeds, %d bytes" % (target, len(picked), total))


def main():
    args = sys.argv[1:]
    if args == ["--curate"]:
        curate()
        return
    if not args:
        print(__doc__)
        sys.exit(2)
    out_dir = args[0]
    only = args[args.index("--target") + 1] if "--target" in args else None
    for target in TARGETS:
        if only and target != only:
            continue
        n = write(out_dir, target, GENERATORS[target]())
        print("%-10s %d new inputs in %s" % (target, n, os.path.join(out_dir, target)))


if __name__ == "__main__":
    main()
