#!/usr/bin/env python3
"""What interleaving costs, as an upper bound: rewrites a capture with its packets grouped by
flow inside windows of K packets (each flow's packets together and in their order, the flows in
the order they first appear in the window; timestamps kept as they were), for `mcpsonar bench`
to read beside the original. The gap between the two runs bounds what any reordering of the
work by flow could win (docs/performance.md, twenty-third round). Timestamps then go back and
forth inside a window, so rules with time windows may fire differently: compare times, not
alerts.

usage: scripts/bench/regroup-by-flow.py IN.pcap OUT.pcap K
  e.g. scripts/bench/regroup-by-flow.py bench-out/corpus-300MB.pcap bench-out/regrouped-4096.pcap 4096
Reads little-endian pcap files (what `mcpsonar corpus` writes), Ethernet or raw IPv4/IPv6.
"""
import struct
import sys


def flow_key(packet, link):
    """The symmetric 5-tuple (addresses, ports, protocol); b'' when not IP."""
    offset = 0
    if link == 1:  # Ethernet, with at most one VLAN tag
        if len(packet) < 14:
            return b''
        ethertype = packet[12:14]
        offset = 14
        if ethertype == b'\x81\x00' and len(packet) >= 18:
            ethertype, offset = packet[16:18], 18
        if ethertype not in (b'\x08\x00', b'\x86\xdd'):
            return b''
    elif link not in (101, 228, 229):  # raw IP
        return b''
    if len(packet) <= offset:
        return b''
    version = packet[offset] >> 4
    if version == 4 and len(packet) >= offset + 20:
        header = (packet[offset] & 15) * 4
        proto = packet[offset + 9]
        a, b = packet[offset + 12:offset + 16], packet[offset + 16:offset + 20]
    elif version == 6 and len(packet) >= offset + 40:
        header = 40
        proto = packet[offset + 6]
        a, b = packet[offset + 8:offset + 24], packet[offset + 24:offset + 40]
    else:
        return b''
    ports = packet[offset + header:offset + header + 4]
    ends = sorted([(a, ports[:2]), (b, ports[2:4])])
    return b''.join(x for end in ends for x in end) + bytes([proto])


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, target, window = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if window < 1:
        sys.exit('K must be at least 1')
    with open(source, 'rb') as f:
        data = f.read()
    if len(data) < 24 or struct.unpack('<I', data[:4])[0] not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit('not a little-endian pcap file')
    link = struct.unpack('<I', data[20:24])[0]
    pending = []
    with open(target, 'wb') as out:
        out.write(data[:24])

        def flush():
            first = {}
            for i, (key, _) in enumerate(pending):
                first.setdefault(key, i)
            # sorted() is stable: a flow's packets keep their order.
            for _, record in sorted(pending, key=lambda item: first[item[0]]):
                out.write(record)
            pending.clear()

        offset = 24
        while offset + 16 <= len(data):
            captured = struct.unpack('<I', data[offset + 8:offset + 12])[0]
            record = data[offset:offset + 16 + captured]
            offset += 16 + captured
            pending.append((flow_key(record[16:], link), record))
            if len(pending) >= window:
                flush()
        flush()


if __name__ == '__main__':
    main()
