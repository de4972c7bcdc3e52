#!/usr/bin/env python3
# A capture of one HTTP POST (10.0.0.1:40000 -> 10.0.0.2:8000) carrying a JSON-RPC tools/call
# whose arguments hold an array of N strings, to time the sensor on hostile messages
# (docs/performance.md, eighteenth round): `time .build/release/mcpsonar -r OUT > /dev/null`.
# usage: scripts/bench/hostile-request.py OUT N KIND
#   KIND: aws   = N distinct AWS access key ids (each a secret finding)
#         plain = N strings of 33 bytes without a secret (each long enough to be looked up)
#         paths = N traversal strings (each two content findings)
import struct, sys, random
out, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(1)
A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
def item(i):
    if kind == "aws": return "AKIA" + "".join(rnd.choice(A) for _ in range(16))
    if kind == "paths": return "../../../etc/passwd %d" % i
    return "plain text value number %08d here" % i
body = ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"keys":['
        + ",".join('"%s"' % item(i) for i in range(n)) + ']}}}').encode()
head = ("POST /mcp HTTP/1.1\r\nHost: 10.0.0.2:8000\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n" % len(body)).encode()
data = head + body
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return (~s) & 0xFFFF
def pkt(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp + payload
c, s = [10, 0, 0, 1], [10, 0, 0, 2]
pk = [pkt(c, s, 40000, 8000, 1000, 0, 0x02), pkt(s, c, 8000, 40000, 5000, 1001, 0x12), pkt(c, s, 40000, 8000, 1001, 5001, 0x10)]
seq = 1001
for i in range(0, len(data), 60000):
    chunk = data[i:i + 60000]
    pk.append(pkt(c, s, 40000, 8000, seq, 5001, 0x18, chunk)); seq += len(chunk)
    pk.append(pkt(s, c, 8000, 40000, 5001, seq, 0x10))
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    for k, p in enumerate(pk):
        f.write(struct.pack("<IIII", 1700000000 + k, 0, len(p), len(p))); f.write(p)
print(out, len(body), "body bytes")
