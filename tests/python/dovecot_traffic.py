#!/usr/bin/env python3
"""Known traffic against a test Dovecot on 127.0.0.1, with the standard library's clients
(smtplib.LMTP, imaplib, poplib) as mail clients send it.

Usage: dovecot_traffic.py IMAP_PORT POP3_PORT LMTP_PORT JSON
JSON: {"ok": [user, password], "pop": [user, password], "quota_user": user,
       "disabled": [user, password], "unknown": user}
Prints one JSON object: the reply each step got, for the test to check before it compares
the exporter's counters with what the traffic did.
"""
import imaplib
import json
import poplib
import smtplib
import socket
import sys

HOST = "127.0.0.1"


def main():
    imap_port, pop_port, lmtp_port = (int(a) for a in sys.argv[1:4])
    cfg = json.loads(sys.argv[4])
    ok_user, ok_pw = cfg["ok"]
    pop_user, pop_pw = cfg["pop"]
    out = {}

    # LMTP: two deliveries in one connection, an unknown recipient, a message over quota.
    lmtp = smtplib.LMTP(HOST, lmtp_port)
    for i in range(2):
        lmtp.sendmail("sender@test.local", [pop_user], f"Subject: t{i}\r\n\r\nhello {i}\r\n")
    lmtp.quit()
    lmtp = smtplib.LMTP(HOST, lmtp_port)
    try:
        lmtp.sendmail("sender@test.local", [cfg["unknown"]], "Subject: x\r\n\r\nx\r\n")
        out["unknown_rcpt"] = 250
    except smtplib.SMTPRecipientsRefused as e:
        out["unknown_rcpt"] = list(e.recipients.values())[0][0]
    lmtp.quit()
    lmtp = smtplib.LMTP(HOST, lmtp_port)
    try:
        big = "Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 80
        refused = lmtp.sendmail("sender@test.local", [cfg["quota_user"]], big)
        out["quota"] = list(refused.values())[0][0] if refused else 250
    except smtplib.SMTPDataError as e:
        out["quota"] = e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        out["quota"] = list(e.recipients.values())[0][0]
    lmtp.quit()

    # IMAP: a good session (SELECT, APPEND, FETCH), a wrong password, an unknown user, a
    # disabled user, a client that never authenticates, one that aborts SASL.
    m = imaplib.IMAP4(HOST, imap_port)
    m.login(ok_user, ok_pw)
    out["select"] = m.select("INBOX")[0]
    out["append"] = m.append("INBOX", None, None, b"Subject: appended\r\n\r\nhello\r\n")[0]
    m.select("INBOX")
    out["fetch"] = m.fetch("1", "(FLAGS BODY.PEEK[HEADER])")[0]
    m.logout()
    for name, user, pw in [
        ("wrong_password", ok_user, "wrong"),
        ("unknown_user", cfg["unknown"], "x"),
        ("disabled", cfg["disabled"][0], cfg["disabled"][1]),
    ]:
        m = imaplib.IMAP4(HOST, imap_port)
        try:
            m.login(user, pw)
            out[name] = "OK"
        except imaplib.IMAP4.error:
            out[name] = "NO"
        m.logout()
    s = socket.create_connection((HOST, imap_port))
    s.recv(4096)
    s.close()
    s = socket.create_connection((HOST, imap_port))
    f = s.makefile("rwb")
    f.readline()
    f.write(b"a AUTHENTICATE PLAIN\r\n")
    f.flush()
    f.readline()
    f.write(b"*\r\n")
    f.flush()
    out["sasl_abort"] = f.readline().decode().split(" ")[1]
    f.write(b"b LOGOUT\r\n")
    f.flush()
    f.read()
    s.close()

    # POP3: a good session with a RETR, a wrong password, a client that never logs in.
    p = poplib.POP3(HOST, pop_port)
    p.user(pop_user)
    p.pass_(pop_pw)
    out["pop_messages"] = p.stat()[0]
    p.retr(1)
    p.quit()
    p = poplib.POP3(HOST, pop_port)
    p.user(pop_user)
    try:
        p.pass_("wrong")
        out["pop_wrong_password"] = "+OK"
    except poplib.error_proto:
        out["pop_wrong_password"] = "-ERR"
    p.quit()
    s = socket.create_connection((HOST, pop_port))
    s.recv(4096)
    s.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
