#!/usr/bin/env python3
"""HTTP and HTTPS targets for the probe exporter's tests, on loopback.

Usage: http_targets.py HTTP_PORT HTTPS_PORT CERT KEY
Paths: / (200, a webmail-like page), /redirect (302 to /), /away (302 to a host no module
allows), /missing (404), /big (11 MiB, beyond the probe's body limit).
"""
import http.server
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def send_body(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/":
            self.send_body(200, b"<html><title>Webmail login</title>Roundcube-like page</html>\n")
        elif self.path == "/redirect":
            self.send_body(302, b"", [("Location", "/")])
        elif self.path == "/away":
            self.send_body(302, b"", [("Location", "http://192.0.2.1/")])
        elif self.path == "/big":
            self.send_body(200, b"x" * (11 * 1024 * 1024))
        else:
            self.send_body(404, b"not found\n")

    def log_message(self, *args):
        pass


def serve(server):
    server.serve_forever()


def main():
    http_port, https_port, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Handler)
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", https_port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
    threading.Thread(target=serve, args=(secure,), daemon=True).start()
    serve(plain)


if __name__ == "__main__":
    main()
