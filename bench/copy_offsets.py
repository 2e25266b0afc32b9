#!/usr/bin/env python3
"""How fast the kernel copies a 100 KiB send into a loopback socket, by the source's offset in
its page (see docs/performance.md, "Cache hit 100 KiB: edgeway's slow rounds").

    taskset -c 0 python3 bench/copy_offsets.py [ROUNDS]

A page-aligned 4 MiB buffer; for each offset, 300 sends of 100 KiB from that offset over a
loopback TCP connection drained by a thread; prints the microseconds a send took, one column per
round. On the AMD EPYC these notes were taken on, offsets 4,084-4,095 cost about twice the rest.
Standard library only; loopback only; bounded (offsets x rounds x 300 sends).
"""
import mmap
import os
import socket
import sys
import threading
import time

SIZE = 102400
SENDS = 300
OFFSETS = list(range(0, 4096, 256)) + list(range(4040, 4096, 4)) + [4095, 1, 8, 16, 32]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if not 1 <= rounds <= 20:
        sys.exit("ROUNDS must be 1-20")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def drain() -> None:
        buf = bytearray(1 << 20)
        while receiver.recv_into(buf):
            pass

    threading.Thread(target=drain, daemon=True).start()
    area = mmap.mmap(-1, 1 << 22)
    area.write(os.urandom(1 << 22))
    view = memoryview(area)
    took = {}
    for _ in range(rounds):
        for off in OFFSETS:
            body = view[off : off + SIZE]
            start = time.perf_counter()
            for _ in range(SENDS):
                sender.sendall(body)
            took.setdefault(off, []).append((time.perf_counter() - start) / SENDS * 1e6)
    print("offset  us per 100 KiB send (one column per round)")
    for off in sorted(took):
        print(f"{off:6d}  " + "  ".join(f"{t:5.1f}" for t in took[off]))
    sender.close()


if __name__ == "__main__":
    main()
