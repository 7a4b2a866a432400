#!/usr/bin/env python3
"""Python's own mail clients against the sandbox's servers, authenticating with XOAUTH2 as
the seed describes (imaplib.authenticate, poplib through AUTH by hand, smtplib.auth).

    python_clients.py imaps|imap|pop3s|pop3|smtps|smtp HOST PORT CAFILE USER TOKEN_FILE ok|fail

Prints one "RESULT ..." line; exits 0 when the outcome is the expected one."""
import base64
import imaplib
import poplib
import smtplib
import ssl
import sys


def imap(mode, host, port, ctx, user, auth):
    if mode == "imaps":
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
    else:
        m = imaplib.IMAP4(host, port)
        m.starttls(ssl_context=ctx)
    m.authenticate("XOAUTH2", lambda _: auth.encode())
    m.append("INBOX", None, None, b"Subject: from imaplib\r\n\r\nhello from Python\r\n")
    typ, data = m.select("INBOX")
    count = int(data[0])
    typ, data = m.search(None, "ALL")
    numbers = data[0].split()
    typ, data = m.fetch(numbers[-1], "(RFC822)")
    assert b"hello from Python" in data[0][1], data
    m.store(numbers[-1], "+FLAGS", "\\Deleted")
    m.expunge()
    m.close()
    m.logout()
    return "imap %d messages, fetched and expunged the last" % count


def pop(mode, host, port, ctx, user, auth):
    if mode == "pop3s":
        p = poplib.POP3_SSL(host, port, context=ctx)
    else:
        p = poplib.POP3(host, port)
        p.stls(context=ctx)
    # poplib has no SASL: the two-step AUTH Microsoft requires, by hand.
    p._shortcmd("AUTH XOAUTH2")
    p._shortcmd(base64.b64encode(auth.encode()).decode())
    count, size = p.stat()
    p.list()
    if count:
        p.retr(1)
    p.quit()
    return "pop %d messages" % count


def smtp(mode, host, port, ctx, user, auth):
    if mode == "smtps":
        s = smtplib.SMTP_SSL(host, port, context=ctx)
    else:
        s = smtplib.SMTP(host, port)
        s.starttls(context=ctx)
    s.ehlo()
    s.auth("XOAUTH2", lambda challenge=None: auth)
    s.sendmail(user, [user], "Subject: from smtplib\r\n\r\nsent by Python\r\n")
    s.quit()
    return "smtp sent"


def main():
    mode, host, port, cafile, user, token_file, expect = sys.argv[1:8]
    with open(token_file) as f:
        token = f.read().strip()
    ctx = ssl.create_default_context(cafile=cafile)
    auth = "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)
    run = {"imap": imap, "pop3": pop, "smtp": smtp}[mode.rstrip("s")]
    try:
        outcome = run(mode, host, int(port), ctx, user, auth)
        print("RESULT ok:", outcome)
        return 0 if expect == "ok" else 1
    except (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException) as e:
        print("RESULT refused:", type(e).__name__, e)
        return 0 if expect == "fail" else 1


if __name__ == "__main__":
    sys.exit(main())
