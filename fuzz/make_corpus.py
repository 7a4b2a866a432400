#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: realistic server exchanges for the session
fuzzers and SASL messages for the decoder fuzzers. Run it again after changing it; the files
are committed so that a fuzz run needs nothing but the build."""

import base64
import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
A = "\x01"


def b64(text):
    return base64.b64encode(text.encode("latin-1")).decode()


# Session inputs: options byte, token-size byte, separator, then the server's replies.
IMPLICIT, STARTTLS, NONE = 0, 1, 2
XOAUTH2, OAUTHBEARER = 1 << 2, 2 << 2
PREFER, NEVER = 1 << 4, 2 << 4
LOGOUT, TIGHT = 0x40, 0x80
SEP = "\x00"


def session(options, token_size, *replies):
    return bytes([options, token_size, 0]) + SEP.join(replies).encode("latin-1")


GOOGLE_400 = b64('{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')
GOOGLE_401 = b64('{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
RFC7628_FAIL = b64('{"status":"invalid_token","scope":"example_scope",'
                   '"openid-configuration":"https://example.com/.well-known/openid-configuration"}')

IMAP_CAPS = "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n"
IMAP = {
    "seed-success": session(
        IMPLICIT, 0, "* OK The Microsoft Exchange IMAP4 service is ready.\r\n",
        IMAP_CAPS + "C01 OK Completed\r\n", "A01 OK AUTHENTICATE completed.\r\n"),
    "seed-failure": session(
        IMPLICIT, 0, "* OK ready\r\n", IMAP_CAPS + "C01 OK Completed\r\n",
        "A01 NO AUTHENTICATE failed.\r\n"),
    "greeting-caps-logout": session(
        IMPLICIT | LOGOUT, 2,
        "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=XOAUTH2] Dovecot ready.\r\n",
        "* CAPABILITY IMAP4rev1 IDLE\r\nA01 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n",
        "* BYE Logging out\r\nL01 OK Logout completed.\r\n"),
    "two-step-no-sasl-ir": session(
        IMPLICIT, 3, "* OK IMAP4rev2 ready\r\n",
        "* CAPABILITY IMAP4rev2 AUTH=XOAUTH2\r\nC01 OK\r\n", "+ \r\n", "A01 OK done\r\n"),
    "xoauth2-challenge": session(
        IMPLICIT, 1, "* OK Gimap ready\r\n",
        "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 "
        "XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER\r\n"
        "C01 OK Thats all she wrote!\r\n",
        "+ " + GOOGLE_400 + "\r\n",
        "A01 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"),
    "oauthbearer-challenge": session(
        IMPLICIT | OAUTHBEARER, 1, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] hi\r\n",
        "+ " + RFC7628_FAIL + "\r\n", "A01 NO Authentication failed\r\n"),
    "starttls": session(
        STARTTLS, 0, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
        "S01 OK Begin TLS negotiation now.\r\n", IMAP_CAPS + "C01 OK Completed\r\n",
        "A01 OK Logged in\r\n"),
    "starttls-ask-caps": session(
        STARTTLS, 0, "* OK ready\r\n",
        "* CAPABILITY IMAP4rev1 STARTTLS\r\nC01 OK\r\n", "S01 OK go\r\n",
        IMAP_CAPS + "C02 OK\r\n", "A01 OK\r\n"),
    "starttls-injection": session(
        STARTTLS, 0, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
        "S01 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n"),
    "starttls-refused": session(
        STARTTLS, 0, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", "S01 NO not now\r\n"),
    "preauth": session(STARTTLS, 0, "* PREAUTH [CAPABILITY IMAP4rev1] Logged in as joe\r\n"),
    "bye": session(IMPLICIT, 0, "* BYE [UNAVAILABLE] shutting down\r\n"),
    "literal": session(
        IMPLICIT, 0, "* OK ready\r\n",
        "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\n* ID (\"name\" {7}\r\nDovecot)\r\n"
        "C01 OK\r\n", "* 1 FETCH (BODY[] {5}\r\nhello FLAGS ())\r\nA01 OK\r\n"),
    "temporary": session(
        IMPLICIT | NEVER, 0, "* OK ready\r\n", IMAP_CAPS + "C01 OK\r\n", "+\r\n",
        "A01 NO [UNAVAILABLE] Temporary authentication failure\r\n"),
    "long-token": session(
        IMPLICIT | PREFER, 255, "* OK ready\r\n", IMAP_CAPS + "C01 OK\r\n", "+ \r\n",
        "A01 OK\r\n"),
    "tight-bounds": session(
        IMPLICIT | TIGHT, 0, "* OK ready\r\n", "* " + "X" * 300 + "\r\n"),
    "plaintext-split": session(
        NONE, 0, "* OK re", "ady\r\n* CAPABILITY IMAP4rev1 AU", "TH=XOAUTH2\r\nC01 OK\r", "\n",
        "+ \r\n", "A01 BAD Invalid SASL argument.\r\n"),
}

POP3_CAPA = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\nUSER\r\n.\r\n"
POP3 = {
    "seed-success": session(
        IMPLICIT, 0, "+OK The Microsoft Exchange POP3 service is ready.\r\n", POP3_CAPA,
        "+ \r\n", "+OK Welcome.\r\n"),
    "seed-failure": session(
        IMPLICIT, 0, "+OK ready\r\n", POP3_CAPA, "+ \r\n", "+ " + GOOGLE_400 + "\r\n",
        "-ERR Authentication failure: unknown user name or bad password.\r\n"),
    "one-line": session(
        IMPLICIT | PREFER | LOGOUT, 0, "+OK ready\r\n", POP3_CAPA, "+OK Logged in.\r\n",
        "+OK Logging out.\r\n"),
    "stls": session(
        STARTTLS, 0, "+OK Dovecot ready.\r\n",
        "+OK\r\nCAPA\r\nTOP\r\nSTLS\r\nUSER\r\n..dot-stuffed\r\n.\r\n", "+OK Begin TLS negotiation\r\n",
        POP3_CAPA, "+ \r\n", "+OK Logged in.\r\n"),
    "stls-injection": session(
        STARTTLS, 0, "+OK ready\r\n", "+OK\r\nSTLS\r\n.\r\n", "+OK Begin TLS\r\n+OK injected\r\n"),
    "stls-refused": session(
        STARTTLS, 0, "+OK ready\r\n", "+OK\r\nSTLS\r\n.\r\n", "-ERR [SYS/TEMP] not now\r\n"),
    "capa-refused": session(
        IMPLICIT | XOAUTH2, 0, "+OK ready\r\n", "-ERR unknown command\r\n", "+ \r\n",
        "-ERR [AUTH] Authentication failed.\r\n"),
    "oauthbearer": session(
        IMPLICIT | OAUTHBEARER, 1, "+OK ready\r\n", POP3_CAPA, "+ \r\n",
        "+ " + RFC7628_FAIL + "\r\n", "-ERR [AUTH] Authentication failed.\r\n"),
    "temporary": session(
        IMPLICIT, 0, "+OK ready\r\n", POP3_CAPA, "+ \r\n", "-ERR [SYS/TEMP] try later\r\n"),
    "tight-bounds": session(
        IMPLICIT | TIGHT, 0, "+OK ready\r\n", "+OK\r\n" + "X\r\n" * 20 + ".\r\n"),
}

EHLO_PLAIN = ("250-smtp.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
              "250-PIPELINING\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
EHLO_TLS = ("250-smtp.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
            "250-AUTH LOGIN XOAUTH2\r\n250-AUTH=LOGIN\r\n250 SMTPUTF8\r\n")
SMTP = {
    "seed-success": session(
        STARTTLS, 40, "220 smtp.office365.com Microsoft ESMTP MAIL Service ready\r\n",
        EHLO_PLAIN, "220 2.0.0 SMTP server ready\r\n", EHLO_TLS, "334 \r\n",
        "235 2.7.0 Authentication successful\r\n"),
    "seed-failure": session(
        STARTTLS, 40, "220 ready\r\n", EHLO_PLAIN, "220 2.0.0 go\r\n", EHLO_TLS, "334 \r\n",
        "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]\r\n"),
    "tenant-disabled": session(
        IMPLICIT, 0, "220 ready\r\n", EHLO_TLS, "535 5.7.139 Authentication unsuccessful, "
        "SmtpClientAuthentication is disabled for the Tenant.\r\n"),
    "gmail-challenge": session(
        IMPLICIT | LOGOUT, 0, "220 smtp.gmail.com ESMTP\r\n",
        "250-smtp.gmail.com at your service\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN "
        "OAUTHBEARER XOAUTH\r\n250 SMTPUTF8\r\n",
        "334 " + GOOGLE_401 + "\r\n",
        "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 https://support.google.com\r\n",
        "221 2.0.0 closing connection\r\n"),
    "gmail-line-too-long": session(
        IMPLICIT | PREFER, 200, "220 smtp.gmail.com ESMTP\r\n", EHLO_TLS,
        "555-5.5.2 Syntax error, cannot decode response.\r\n555 5.5.2 go to support\r\n"),
    "oauthbearer": session(
        IMPLICIT | OAUTHBEARER, 0, "220 ready\r\n", "250-x\r\n250 AUTH OAUTHBEARER\r\n",
        "334 " + RFC7628_FAIL + "\r\n", "535 5.7.8 failed\r\n"),
    "starttls-injection": session(
        STARTTLS, 0, "220 ready\r\n", EHLO_PLAIN, "220 go ahead\r\n250 injected\r\n"),
    "starttls-refused": session(
        STARTTLS, 0, "220 ready\r\n", EHLO_PLAIN, "454 4.7.0 TLS not available\r\n"),
    "temporary": session(
        NONE, 0, "220 ready\r\n", EHLO_TLS, "454 4.7.0 Temporary authentication failure\r\n"),
    "multiline-greeting": session(
        IMPLICIT | NEVER, 0, "220-mx.example.com\r\n220 ESMTP\r\n", EHLO_TLS, "334\r\n",
        "235 ok\r\n"),
    "malformed": session(IMPLICIT, 0, "220 ready\r\n", "250-a\r\n251 b\r\n"),
}

XOAUTH2 = {
    "seed": "user=test@contoso.onmicrosoft.com" + A + "auth=Bearer EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA" + A + A,
    "seed-imap": "user=someuser@example.com" + A + "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg" + A + A,
    "lower-bearer": "user=jonjon@bellred.org" + A + "auth=bearer eyJ0eXAiOiJKV1QiLCJub25jZSI6" + A + A,
    "extra-key": "auth=Bearer t" + A + "user=u" + A + "vendor=x" + A + A,
    "no-user": "auth=Bearer t" + A + A,
    "encoder": "user@example.com\x00token.value",
    "seed-base64": "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==",
}

OAUTHBEARER = {
    "rfc7628": "n,a=user@example.com," + A + "host=server.example.com" + A + "port=143" + A
               + "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==" + A + A,
    "no-authzid": "n,," + A + "auth=Bearer t" + A + A,
    "escaped": "y,a=a=2Cb=3Dc," + A + "mthd=POST" + A + "auth=Bearer t" + A + A,
    "channel-binding": "p=tls-unique,," + A + "auth=Bearer t" + A + A,
    "bad-port": "n,," + A + "port=65536" + A + "auth=Bearer t" + A + A,
    "failure-answer": A,
    "encoder": "\x01\x9bu,s=er\x00imap.example.com\x00tok=en",
    "rfc7628-base64": "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9"
                      "QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB",
}

ERROR_CHALLENGE = {
    "seed-pop": GOOGLE_400,
    "google-401": GOOGLE_401,
    "rfc7628": RFC7628_FAIL,
    "json-numeric": '{"status":401,"schemes":"bearer","scope":"https://mail.google.com/"}',
    "json-nested": '{"status":"403","x":[[{"y":null}]],"scope":"a b"}',
    "json-escapes": '{"status":"invalid_token","scope":"\\u00e9\\ud83d\\ude00","openid-configuration":"x"}',
    "not-json": b64("status=400"),
}

BASE64 = {
    "empty": "",
    "one": "Zg==",
    "two": "Zm8=",
    "three": "Zm9v",
    "alphabet": "+/+/",
    "seed": "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==",
    "folded": "Zm9v\r\nYmFy",
    "binary": "\x00\x01\xff\xfe",
}


def program(max_line, *ops):
    """A line_buffer program: max_line, then ("a", bytes) appends, "l" reads a line,
    ("s", n) skips, "c" clears."""
    out = bytearray([max_line])
    for op in ops:
        if op == "l":
            out.append(3)
        elif op == "c":
            out.append(7 | 0x80)
        elif op[0] == "s":
            out += bytes([6, op[1]])
        else:
            data = op[1].encode("latin-1")
            for i in range(0, len(data), 31):
                part = data[i:i + 31]
                out.append(len(part) * 8)
                out += part
    return bytes(out)


LINE_BUFFER = {
    "crlf": program(40, ("a", "* OK ready\r\nC01 OK done\r\n"), "l", "l", "l"),
    "split-crlf": program(16, ("a", "x" * 16 + "\r"), "l", ("a", "\n"), "l"),
    "too-long": program(16, ("a", "x" * 17 + "\n"), "l", ("a", "ok\n"), "l"),
    "literal": program(8, ("a", "* X {20}\r\n"), "l", ("a", "L" * 10), ("s", 20), ("a", "L" * 10 + ")\r\n"),
                       ("s", 10), "l"),
    "bare-lf": program(63, ("a", "+OK a\nb\r\n\nc\n"), "l", "l", "l", "l", "l"),
    "clear": program(32, ("a", "220 go\r\ninjected\r\n"), "l", "c", ("a", "250 ok\r\n"), "l"),
}


# The identity platform: requests separated by NUL, each "METHOD TARGET", headers, a blank line
# and the body (fuzz/identity_request_fuzzer.cpp). {placeholders} are what the platform handed
# out earlier in the same input.
TENANT = "6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e11"
MAIL = "0d5b1c7e-2f44-4c1b-9a8e-6b1e2b9f3a01"
IMPLICIT_APP = "1e6c2d8f-3055-4d2c-8b9f-7c2f3ca04b02"
DAEMON = "2f7d3e90-4166-4e3d-9ca0-8d304db15c03"
USER = "test%40contoso.onmicrosoft.com"
V2 = "/" + TENANT + "/oauth2/v2.0/"
FORM = "Content-Type: application/x-www-form-urlencoded"
SCOPES = ("openid%20email%20offline_access%20https%3A%2F%2Foutlook.office365.com%2F"
          "IMAP.AccessAsUser.All%20https%3A%2F%2Foutlook.office365.com%2FSMTP.Send")
VERIFIER = "dBjftJeZ4CVP-mJ92K9Ydbd14-JSjBcXSOJhtvCk-mailoauth-fuzz"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


def http(method, target, body="", *headers):
    return "\n".join([method + " " + target, *headers, "", body])


def flow(*requests):
    return "\x00".join(requests)


AUTHORIZE = (V2 + "authorize?client_id=" + MAIL + "&response_type=code&redirect_uri="
             "http%3A%2F%2Flocalhost%3A53117&scope=" + SCOPES + "&state=s-1&nonce=n-1"
             "&code_challenge=" + CHALLENGE + "&code_challenge_method=S256")
LOGIN = http("POST", "/login", "ctx={ctx}&login=" + USER + "&passwd={password}", FORM)
CONSENT = http("POST", "/consent", "ctx={ctx}&decision=accept", FORM)
REDEEM = http("POST", V2 + "token", "client_id=" + MAIL + "&grant_type=authorization_code"
              "&code={code}&redirect_uri=http%3A%2F%2Flocalhost%3A53117&code_verifier=" + VERIFIER,
              FORM)
REFRESH = http("POST", V2 + "token", "client_id=" + MAIL + "&grant_type=refresh_token"
               "&refresh_token={refresh_token}&scope=" + SCOPES, FORM)
DEVICECODE = http("POST", V2 + "devicecode", "client_id=" + MAIL + "&scope=" + SCOPES, FORM)
POLL = "client_id=" + MAIL + "&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code" \
       "&device_code={device_code}"

IDENTITY = {
    "code-flow": flow(http("GET", AUTHORIZE), LOGIN, CONSENT, REDEEM, REFRESH, REFRESH),
    "code-flow-twice": flow(http("GET", AUTHORIZE), LOGIN, CONSENT, REDEEM, REDEEM),
    "session-cookie": flow(
        http("GET", AUTHORIZE), LOGIN, CONSENT,
        http("GET", AUTHORIZE + "&prompt=none", "", "Cookie: mailoauth_sandbox_session={session}"),
        http("GET", AUTHORIZE + "&prompt=consent", "",
             "Cookie: a=b; mailoauth_sandbox_session={session}"), CONSENT),
    "consent-declined": flow(http("GET", AUTHORIZE.replace("code_challenge=", "response_mode="
                                                           "form_post&code_challenge=")),
                             LOGIN, http("POST", "/consent", "ctx={ctx}&decision=cancel", FORM)),
    "wrong-password": flow(http("GET", AUTHORIZE),
                           http("POST", "/login", "ctx={ctx}&login=" + USER + "&passwd=no", FORM),
                           http("POST", "/login", "ctx={ctx}&login=nobody&passwd=x", FORM), LOGIN),
    "device-flow": flow(DEVICECODE, http("POST", "/devicelogin", "otc={user_code}", FORM), LOGIN,
                        CONSENT, http("POST", V2 + "token", POLL, FORM, "Advance: 6"), REFRESH),
    "device-polling": flow(DEVICECODE, http("POST", V2 + "token", POLL, FORM),
                           http("POST", V2 + "token", POLL, FORM, "Advance: 11"),
                           http("GET", "/devicelogin"),
                           http("POST", "/devicelogin", "otc=abc-def-ghj", FORM),
                           http("POST", V2 + "token", POLL, FORM, "Advance: 2000")),
    "implicit-form-post": flow(
        http("GET", V2 + "authorize?client_id=" + IMPLICIT_APP + "&response_type=id_token%20token"
             "&response_mode=form_post&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid"
             "%20https%3A%2F%2Foutlook.office365.com%2FIMAP.AccessAsUser.All&nonce=n%00%FF"),
        LOGIN),
    "implicit-refused": http("GET", V2 + "authorize?client_id=" + MAIL + "&response_type=token"
                             "&scope=openid&redirect_uri=ms-app%3A%2F%2Fs-1-15%2F"),
    "client-credentials-basic": http(
        "POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "grant_type=client_credentials&scope=https%3A%2F%2Foutlook.office365.com%2F.default",
        FORM, "Authorization: {basic}", "client-request-id: 0b4f1c8e-2f44-4c1b-9a8e-6b1e2b9f3a01"),
    "client-credentials-post": http(
        "POST", "/organizations/oauth2/v2.0/token",
        "client_id=" + DAEMON + "&client_secret={secret}&grant_type=client_credentials"
        "&scope=https%3A%2F%2Foutlook.office365.com%2F.default", FORM),
    "discovery": flow(http("GET", "/common/v2.0/.well-known/openid-configuration"),
                      http("GET", "/" + TENANT + "/v2.0/.well-known/openid-configuration"),
                      http("GET", "/" + TENANT + "/discovery/v2.0/keys"),
                      http("GET", "/consumers/discovery/keys"),
                      http("GET", "/nobody.example/v2.0/.well-known/openid-configuration"),
                      http("GET", "/favicon.ico")),
    "errors": flow(
        http("GET", V2 + "authorize?client_id=" + MAIL + "&redirect_uri=http%3A%2F%2Fevil.example"),
        http("GET", V2 + "authorize?client_id=00000000-0000-0000-0000-000000000000"),
        http("GET", V2 + "authorize?client_id=" + MAIL + "&response_type=bogus&state=<x-fuzz>"),
        http("GET", V2 + "authorize?client_id=" + MAIL + "&client_id=" + MAIL),
        http("GET", V2 + "authorize?client_id=%zz"),
        http("PUT", V2 + "authorize"),
        http("GET", V2 + "token"),
        http("POST", V2 + "token", '{"grant_type":"client_credentials","client_id":"' + DAEMON +
             '"}', "Content-Type: application/json"),
        http("POST", V2 + "token", "grant_type=password&client_id=" + MAIL, FORM),
        http("POST", V2 + "token", "client_id=" + MAIL + "&grant_type=client_credentials",
             FORM, "Authorization: Basic !!!"),
        http("POST", "/consumers/oauth2/v2.0/devicecode", "client_id=" + MAIL, FORM),
        http("GET", "/login")),
}

WEB_FORM = {
    "query": "client_id=abc&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&state=x+y",
    "repeated": "code=1&state=2&code=3",
    "broken-escape": "a=%zz&b=%4",
    "empty-parts": "&&=x&a&b=&=&c==d",
    "bytes": "n=%00%FF%e2%82%ac&%2B=+",
    "html": "<x-fuzz a=\"1\" b='2'>&amp;",
}


def write(target, cases):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in cases.items():
        if isinstance(data, str):
            data = data.encode("latin-1")
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("fuzz_imap_session", IMAP)
write("fuzz_pop3_session", POP3)
write("fuzz_smtp_session", SMTP)
write("fuzz_line_buffer", LINE_BUFFER)
write("fuzz_xoauth2", XOAUTH2)
write("fuzz_oauthbearer", OAUTHBEARER)
write("fuzz_error_challenge", ERROR_CHALLENGE)
write("fuzz_base64", BASE64)
write("fuzz_identity_request", IDENTITY)
write("fuzz_web_form", WEB_FORM)
