#!/usr/bin/env python3
"""Known FTP traffic against a test ProFTPd on 127.0.0.1 with the standard library's ftplib.

Usage: ftp_traffic.py PORT JSON [tls]
JSON: {"alice": password, "bob": password}
With `tls`, only FTPS steps: alice logs in over AUTH TLS, PROT P, STOR tls.txt (600 B), QUIT;
then two clients whose TLS handshakes fail (bytes that are no ClientHello; a client that
offers only TLS 1.1, which the server refuses).
Steps (sizes are the contract the test checks the exporter against):
  alice: STOR report.txt (12345 B), STOR "my file with spaces.bin" (2048 B),
         STOR notes.txt (12 B), RETR report.txt, DELE notes.txt, STOR big.bin (5 MiB),
         RETR big.bin aborted after 128 KiB read, RETR missing.txt (550), QUIT;
  bob:   STOR b.bin (1000 B), QUIT;
  alice with a wrong password (530), an unknown user (530).
Prints one JSON object with the reply each step got.
"""
import ftplib
import io
import json
import sys

HOST = "127.0.0.1"


def tls_steps(port, pw):
    import socket
    import ssl
    out = {}
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    f = ftplib.FTP_TLS(context=ctx)
    f.connect(HOST, port, timeout=20)
    f.login("alice", pw["alice"])
    f.prot_p()
    out["ftps stor tls.txt"] = f.storbinary("STOR tls.txt", io.BytesIO(b"t" * 600))[:3]
    f.quit()
    s = socket.create_connection((HOST, port), timeout=20)
    s.recv(1000)
    s.sendall(b"AUTH TLS\r\n")
    out["garbage auth"] = s.recv(1000).decode()[:3]
    s.sendall(b"\x16\x03\x01garbage-not-a-hello" + b"x" * 100)
    try:
        s.recv(1000)
    except OSError:
        pass
    s.close()
    s = socket.create_connection((HOST, port), timeout=20)
    s.recv(1000)
    s.sendall(b"AUTH TLS\r\n")
    s.recv(1000)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.options &= ~ssl.OP_NO_TLSv1_1
    try:
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.minimum_version = ssl.TLSVersion.TLSv1
    except (ValueError, AttributeError):
        pass
    try:
        old.wrap_socket(s)
        out["tls 1.1"] = "accepted"
    except (ssl.SSLError, OSError):
        out["tls 1.1"] = "refused"
    s.close()
    return out


def main():
    port = int(sys.argv[1])
    pw = json.loads(sys.argv[2])
    if sys.argv[3:] == ["tls"]:
        print(json.dumps(tls_steps(port, pw), sort_keys=True))
        return
    out = {}

    f = ftplib.FTP()
    f.connect(HOST, port, timeout=20)
    f.login("alice", pw["alice"])
    for name, size in [("report.txt", 12345), ("my file with spaces.bin", 2048), ("notes.txt", 12)]:
        out["stor " + name] = f.storbinary("STOR " + name, io.BytesIO(b"x" * size))[:3]
    got = io.BytesIO()
    out["retr report.txt"] = f.retrbinary("RETR report.txt", got.write)[:3]
    out["retr bytes"] = len(got.getvalue())
    out["dele notes.txt"] = f.delete("notes.txt")[:3]
    out["stor big.bin"] = f.storbinary("STOR big.bin", io.BytesIO(b"y" * (5 << 20)))[:3]
    # Abort: read 128 KiB of the data connection, then close it before the end.
    conn = f.transfercmd("RETR big.bin")
    read = 0
    while read < 128 << 10:
        chunk = conn.recv(min(16384, (128 << 10) - read))
        if not chunk:
            break
        read += len(chunk)
    conn.close()
    try:
        out["retr big.bin aborted"] = f.voidresp()[:3]
    except ftplib.error_temp as e:
        out["retr big.bin aborted"] = str(e)[:3]
    try:
        f.retrbinary("RETR missing.txt", lambda b: None)
        out["retr missing.txt"] = "226"
    except ftplib.error_perm as e:
        out["retr missing.txt"] = str(e)[:3]
    f.quit()

    f = ftplib.FTP()
    f.connect(HOST, port, timeout=20)
    f.login("bob", pw["bob"])
    out["bob stor b.bin"] = f.storbinary("STOR b.bin", io.BytesIO(b"z" * 1000))[:3]
    f.quit()

    for name, user, password in [("wrong password", "alice", "wrong"), ("unknown user", "nobody", "x")]:
        f = ftplib.FTP()
        f.connect(HOST, port, timeout=20)
        try:
            f.login(user, password)
            out[name] = "230"
        except ftplib.error_perm as e:
            out[name] = str(e)[:3]
        f.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
