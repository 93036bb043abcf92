#!/usr/bin/env python3
"""A TCP proxy for fault-injection tests: forwards 127.0.0.1:<listen> to 127.0.0.1:<target>, and for
the first --faults connections that carry more than --after bytes from the server (or, with
--direction up, to it), either cuts the
connection (--mode cut) or stops forwarding while keeping it open (--mode stall). Later connections
pass through. --delay-ms holds every chunk that long in each direction (a link with that much one-way
latency, for benchmarks; --faults 0 for no faults). Prints its port on the first line, then serves
until killed or --lifetime seconds. With --control FILE (JSON, re-read when it changes) a test changes the
link while it runs: {"stall": true} stops forwarding both ways (the bytes wait), {"delay_ms": N} delays
every chunk, and each increase of {"cut": N} closes every open connection."""
import argparse, queue, socket, sys, threading, time

p = argparse.ArgumentParser()
p.add_argument("--target", type=int, required=True)
p.add_argument("--after", type=int, default=64 * 1024 * 1024)
p.add_argument("--faults", type=int, default=3)
p.add_argument("--mode", choices=["cut", "stall"], default="cut")
p.add_argument("--direction", choices=["down", "up"], default="down", help="count --after bytes from the server (down) or to it (up)")
p.add_argument("--lifetime", type=float, default=600)
p.add_argument("--delay-ms", type=float, default=0)
p.add_argument("--control", default=None)
a = p.parse_args()

lock = threading.Lock()
state = {"faults": 0}
live = {"stall": False, "delay_ms": a.delay_ms, "cut": 0}
open_conns = set()

def watch_control():
    import json, os
    seen = None
    while True:
        try:
            st = os.stat(a.control)
            if (st.st_mtime_ns, st.st_size) != seen:
                seen = (st.st_mtime_ns, st.st_size)
                with open(a.control) as f:
                    c = json.load(f)
                live["stall"] = bool(c.get("stall", False))
                live["delay_ms"] = float(c.get("delay_ms", a.delay_ms))
                cut = int(c.get("cut", 0))
                if cut > live["cut"]:
                    live["cut"] = cut
                    with lock:
                        doomed = list(open_conns)
                    for pair in doomed:
                        for s in pair:
                            try:
                                s.shutdown(socket.SHUT_RDWR)
                            except OSError:
                                pass
        except (OSError, ValueError):
            pass
        time.sleep(0.05)

class Delayed:
    """A socket stand-in whose sendall delivers each chunk --delay-ms after it was handed over, in order."""
    def __init__(self, sock):
        self.sock, self.q = sock, queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()
    def _run(self):
        while True:
            due, data = self.q.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self.sock.sendall(data)
            except OSError:
                break
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    def sendall(self, data):
        self.q.put((time.monotonic() + live["delay_ms"] / 1000, data))
    def shutdown(self, how):
        self.q.put((0, None))
    def close(self):
        self.q.put((0, None))

def pump(src, dst, budget, on_exhausted):
    sent = 0
    try:
        while True:
            data = src.recv(262144)
            if not data:
                break
            while live["stall"]:
                time.sleep(0.05)
            if budget is not None and sent + len(data) > budget:
                if on_exhausted():
                    return
                budget = None
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def handle(client):
    try:
        server = socket.create_connection(("127.0.0.1", a.target))
    except OSError:
        # Nothing listens behind (the box's sshd is down): the client is refused too, not left waiting.
        client.close()
        return
    # A link only delays: it does not hold a small chunk back for the previous one's ACK (Nagle) as an
    # endpoint's socket may, which would add the peer's delayed-ACK time to the delay asked for.
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with lock:
        faulty = state["faults"] < a.faults
    def exhausted():
        with lock:
            if state["faults"] >= a.faults:
                return False
            state["faults"] += 1
        if a.mode == "cut":
            client.close(); server.close()
        else:
            time.sleep(a.lifetime)
        return True
    with lock:
        open_conns.add((client, server))
    to_server = Delayed(server) if a.delay_ms > 0 or a.control else server
    to_client = Delayed(client) if a.delay_ms > 0 or a.control else client
    up = faulty and a.direction == "up"
    down = faulty and a.direction == "down"
    threading.Thread(target=pump, args=(client, to_server, a.after if up else None, exhausted if up else (lambda: False)), daemon=True).start()
    threading.Thread(target=pump, args=(server, to_client, a.after if down else None, exhausted if down else (lambda: False)), daemon=True).start()

if a.control:
    threading.Thread(target=watch_control, daemon=True).start()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(32)
print(ls.getsockname()[1], flush=True)
ls.settimeout(1.0)
end = time.time() + a.lifetime
while time.time() < end:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    threading.Thread(target=handle, args=(c,), daemon=True).start()
