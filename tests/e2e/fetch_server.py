#!/usr/bin/env python3
"""fetch_server.py - a fault-injecting HTTP server for tests/e2e/fetch.sh.

Standard library only.  Binds only to the 127.0.0.x addresses it is given,
all on one port, and exits by itself after --lifetime seconds whatever
happens.  Every connection is counted per address; GET /_stats returns, as
JSON, the largest number of connections that were open at once to each
address, the requests seen per path, and the request headers of interest
(User-Agent, Accept-Encoding).  POST /_recover makes the flaky paths answer
200 from then on (the --retry-failed test).

Paths (NAME is a file in --images):
  /img/NAME                  200 with the image
  /status/CODE               that status, a small HTML body
  /flaky/ID/NAME             500 the first time per ID (or, for an ID that
                             starts with "always", until /_recover), then the image
  /ratelimit/ID/NAME         429 with Retry-After: 2 the first time, then the image
  /hang                      reads the request, never answers
  /slow                      headers, then one byte per second
  /endless                   a chunked body that never ends
  /huge                      Content-Length of 1 TB, then nothing
  /short/NAME                Content-Length of the image, half of it, close
  /reset/NAME                headers and part of the body, then a TCP reset
  /redir/N/NAME              a chain of N redirects to /img/NAME
  /loop                      redirects to itself
  /tofile                    redirects to file:///etc/passwd
  /toprivate/HOSTPORT/NAME   redirects to http://HOSTPORT/img/NAME
  /html                      200 text/html
  /robots/VALUE/NAME         X-Robots-Tag: VALUE (URL-quoted) with the image
  /tdm/NAME                  tdm-reservation: 1 with the image
  /delay/MS/NAME             the image after MS milliseconds
"""
import argparse
import http.server
import json
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
OPEN = {}        # address -> connections open now
MAXOPEN = {}     # address -> most connections open at once
REQS = {}        # path -> count
TIMES = {}       # path -> [monotonic times]
HEADERS = []     # (user-agent, accept-encoding)
FLAKY_SEEN = set()
RECOVERED = [False]
ARGS = None


def image(name):
    p = os.path.join(ARGS.images, os.path.basename(name))
    with open(p, "rb") as f:
        return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fetch-test/1"

    def log_message(self, fmt, *a):
        pass

    def setup(self):
        super().setup()
        addr = self.server.server_address[0]
        with LOCK:
            OPEN[addr] = OPEN.get(addr, 0) + 1
            MAXOPEN[addr] = max(MAXOPEN.get(addr, 0), OPEN[addr])

    def finish(self):
        addr = self.server.server_address[0]
        with LOCK:
            OPEN[addr] -= 1
        try:
            super().finish()
        except OSError:
            pass

    def send_body(self, code, body, ctype="image/jpeg", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, loc):
        self.send_response(302)
        self.send_header("Location", loc)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        if self.path == "/_recover":
            RECOVERED[0] = True
            self.send_body(200, b"ok", "text/plain")
        else:
            self.send_body(404, b"no", "text/plain")

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        with LOCK:
            REQS[path] = REQS.get(path, 0) + 1
            TIMES.setdefault(path, []).append(time.monotonic())
            if not path.startswith("/_"):
                HEADERS.append((self.headers.get("User-Agent", ""),
                                self.headers.get("Accept-Encoding")))
        parts = path.strip("/").split("/")
        kind = parts[0]
        try:
            self.route(kind, parts, path)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, kind, parts, path):
        if kind == "_stats":
            with LOCK:
                body = json.dumps({"max_open": MAXOPEN, "requests": REQS,
                                   "times": TIMES, "headers": HEADERS}).encode()
            self.send_body(200, body, "application/json")
        elif kind == "img":
            self.send_body(200, image(parts[1]))
        elif kind == "delay":
            time.sleep(int(parts[1]) / 1000.0)
            self.send_body(200, image(parts[2]))
        elif kind == "status":
            self.send_body(int(parts[1]), b"<html><body>status</body></html>", "text/html")
        elif kind == "flaky":
            key = parts[1]
            with LOCK:
                first = key not in FLAKY_SEEN
                FLAKY_SEEN.add(key)
            fail = (not RECOVERED[0]) if key.startswith("always") else first
            if fail:
                self.send_body(500, b"<html>busy</html>", "text/html")
            else:
                self.send_body(200, image(parts[2]))
        elif kind == "ratelimit":
            key = "rl/" + parts[1]
            with LOCK:
                first = key not in FLAKY_SEEN
                FLAKY_SEEN.add(key)
            if first:
                self.send_body(429, b"slow down", "text/plain", [("Retry-After", "2")])
            else:
                self.send_body(200, image(parts[2]))
        elif kind == "hang":
            time.sleep(ARGS.lifetime)
        elif kind == "slow":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(int(ARGS.lifetime)):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)
        elif kind == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\xff" * 65536
            end = time.monotonic() + ARGS.lifetime
            while time.monotonic() < end:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif kind == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10 ** 12))
            self.end_headers()
            self.wfile.flush()
            time.sleep(2)
            self.close_connection = True
        elif kind == "short":
            body = image(parts[1])
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "reset":
            body = image(parts[1])
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            time.sleep(0.2)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif kind == "redir":
            n = int(parts[1])
            self.redirect("/img/%s" % parts[2] if n <= 1 else "/redir/%d/%s" % (n - 1, parts[2]))
        elif kind == "loop":
            self.redirect("/loop")
        elif kind == "tofile":
            self.redirect("file:///etc/passwd")
        elif kind == "toprivate":
            self.redirect("http://%s/img/%s" % (parts[1], parts[2]))
        elif kind == "html":
            self.send_body(200, b"<!DOCTYPE html><html><head><title>x</title></head><body>not an image</body></html>",
                           "text/html")
        elif kind == "robots":
            self.send_body(200, image(parts[2]), extra=[("X-Robots-Tag", urllib.parse.unquote(parts[1]))])
        elif kind == "tdm":
            self.send_body(200, image(parts[1]), extra=[("tdm-reservation", "1")])
        else:
            self.send_body(404, b"<html>not found</html>", "text/html")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--addrs", required=True, help="comma-separated 127.0.0.x addresses")
    ap.add_argument("--tls-addr", help="an address for an HTTPS server (needs --cert, --key)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--images", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=120)
    ARGS = ap.parse_args()
    addrs = ARGS.addrs.split(",")
    for a in addrs + ([ARGS.tls_addr] if ARGS.tls_addr else []):
        if not a.startswith("127."):
            sys.exit("fetch_server.py: only loopback addresses (127.x) may be used, not %s" % a)
    threading.Timer(ARGS.lifetime, lambda: os._exit(0)).start()
    servers = []
    port = 0
    for attempt in range(20):
        servers = []
        try:
            s = Server((addrs[0], 0), Handler)
            port = s.server_address[1]
            servers.append(s)
            for a in addrs[1:] + ([ARGS.tls_addr] if ARGS.tls_addr else []):
                servers.append(Server((a, port), Handler))
            break
        except OSError:
            for s in servers:
                s.server_close()
            servers = []
    if not servers:
        sys.exit("fetch_server.py: no common free port")
    if ARGS.tls_addr:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        tls = servers[-1]
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, ARGS.port_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
