#!/usr/bin/env python3
"""`mailoauth sandbox` and `mailoauth demo` as a user runs them (issue 4, build items 3 and 4).

    sandbox_tool_test.py MAILOAUTH CASE

CASE is one of:
  demo          the demo exits 0, every step PASS, in under 10 s, no token in its output
  demo-verbose  the same with -vv (the library's and the sandbox's trace logs on stderr)
  serve         `mailoauth sandbox --port-base N`: endpoints and config printed, discovery over
                HTTPS verified with the printed CA, a device login through the device login page,
                `mailoauth check` of the printed account, a clean stop on SIGTERM (exit 0)
  port-taken    a second sandbox on the same ports fails with a clear error and a non-zero exit
  bad-state     a state folder that cannot be used fails with a clear error

Everything runs with XDG_STATE_HOME and XDG_CONFIG_HOME in a temporary folder, so the user's real
configuration and tokens are never touched. Exit status 0 is a pass.
"""

import html.parser
import http.cookiejar
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request

MAILOAUTH = sys.argv[1]
CASE = sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mailoauth-tool-test.")
ENV = dict(os.environ, XDG_STATE_HOME=os.path.join(TMP, "xdg-state"),
           XDG_CONFIG_HOME=os.path.join(TMP, "xdg-config"), NO_PROXY="127.0.0.1,localhost")
ENV.pop("MAILOAUTH_CONFIG", None)

# A JWT (header.payload), or an XOAUTH2 / OAUTHBEARER response in base64 ("user=", "n,a=").
TOKEN_SHAPES = [re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}"),
                re.compile(r"dXNlcj1[A-Za-z0-9+/=]{8,}"), re.compile(r"bixhPQ[A-Za-z0-9+/=]{8,}")]


def check(condition, message, output=""):
    if not condition:
        print("FAIL: " + message)
        if output:
            print("---- output ----\n" + output + "\n----------------")
        sys.exit(1)


def stored_secrets(root):
    """The credentials in every token file under root (plain JSON token store files)."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                continue
            for key in ("access_token", "refresh_token", "id_token"):
                for value in re.findall('"' + key + r'"\s*:\s*"([^"]+)"', text):
                    found.append(value)
    return found


def assert_no_tokens(output, secrets):
    for s in secrets:
        check(s not in output, "a stored token appears in the output", output)
    for shape in TOKEN_SHAPES:
        m = shape.search(output)
        check(m is None, "something shaped like a token appears: " + (m.group(0)[:20] if m else ""),
              output)


def run_demo(verbose):
    args = [MAILOAUTH] + (["-vv"] if verbose else []) + ["demo", "--keep"]
    started = time.monotonic()
    p = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    output = p.stdout + p.stderr
    print(p.stdout)
    print("demo took %.2f s" % took)
    check(p.returncode == 0, "the demo exited %d" % p.returncode, output)
    for step in ("1 ", "2 ", "3 ", "4a", "4b", "5 "):
        check(re.search(r"^  PASS  " + re.escape(step), p.stdout, re.M) is not None,
              "step %s did not PASS" % step.strip(), output)
    check("FAIL " not in p.stdout, "a step failed", output)
    check("All steps passed" in p.stdout, "no summary", output)
    for n in range(1, 6):
        check("== Step %d:" % n in p.stdout, "section %d missing" % n, output)
    for line in ("OK AUTHENTICATE completed",
                 "+OK", "235 2.7.0 Authentication successful", "NO AUTHENTICATE failed.",
                 "535 5.7.3 Authentication unsuccessful", "https://outlook.office365.com/SMTP.Send",
                 "IMAP.AccessAsUser.All", "decoded JSON status"):
        check(line in p.stdout, "the output lacks " + line, output)
    check(took < 10, "the demo took %.1f s (the target is under 10 s)" % took, output)
    kept = re.search(r"^Kept (.*) for inspection\.$", p.stdout, re.M)
    check(kept is not None, "the demo did not say where it kept its files", output)
    secrets = stored_secrets(kept.group(1))
    check(len(secrets) >= 2, "no tokens found in the demo's token store to compare with", output)
    assert_no_tokens(output, secrets)
    subprocess.run(["rm", "-rf", kept.group(1)], check=False)
    # The user's own config and token store were never created.
    check(not os.path.exists(os.path.join(TMP, "xdg-state", "mailoauth")),
          "the demo wrote to XDG_STATE_HOME", output)
    check(not os.path.exists(os.path.join(TMP, "xdg-config", "mailoauth")),
          "the demo wrote to XDG_CONFIG_HOME", output)


def free_port_base():
    for base in range(30000 + (os.getpid() % 200) * 50, 60000, 10):
        socks = []
        try:
            for port in range(base, base + 7):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def start_sandbox(state, base):
    p = subprocess.Popen([MAILOAUTH, "sandbox", "--state", state, "--port-base", str(base)],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Serving until"):
            return p, "".join(lines)
    p.kill()
    out, err = p.communicate()
    check(False, "the sandbox did not start", "".join(lines) + out + err)
    return None, ""


class forms(html.parser.HTMLParser):
    """The first form of a page: its action and the inputs with their values."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}
        self.buttons = []
        self.done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.done:
            return
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and self.action is not None and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "button" and self.action is not None and a.get("name"):
            self.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form" and self.action is not None:
            self.done = True


def device_sign_in(devicelogin, ca_file, code, username, password):
    """Signs in at the device login page as a user would: code, then password, then consent."""
    ctx = ssl.create_default_context(cafile=ca_file)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ctx),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    origin = devicelogin[:devicelogin.index("/", len("https://"))]
    page = opener.open(devicelogin, timeout=10).read().decode()
    for _ in range(4):
        f = forms()
        f.feed(page)
        if f.action is None:
            return page
        fields = dict(f.fields)
        if "otc" in fields:
            fields["otc"] = code
        if "login" in fields:
            fields["login"] = username
        if "passwd" in fields:
            fields["passwd"] = password
        for name, value in f.buttons:
            if value == "accept":
                fields[name] = value
        body = urllib.parse.urlencode(fields).encode()
        page = opener.open(urllib.parse.urljoin(origin + "/", f.action), data=body,
                           timeout=10).read().decode()
    return page


def serve():
    state = os.path.join(TMP, "sandbox-state")
    base = free_port_base()
    p, out = start_sandbox(state, base)
    try:
        for port, scheme in zip(range(base + 1, base + 7),
                                ("imaps", "imap", "pop3s", "pop3", "smtps", "smtp")):
            check("%s://127.0.0.1:%d" % (scheme, port) in out, "no %s URL" % scheme, out)
        check("https://127.0.0.1:%d" % base in out, "no authority URL", out)
        check("[accounts.sandbox]" in out, "no config.toml account", out)
        ca_file = os.path.join(state, "ca.pem")
        check(ca_file in out, "the CA file is not printed", out)
        config_file = os.path.join(state, "config.toml")
        check(os.path.exists(config_file), "no config.toml in the state folder", out)
        check(os.stat(os.path.join(state, "identity.toml")).st_mode & 0o077 == 0,
              "identity.toml is readable by others", out)
        with open(os.path.join(state, "identity.toml"), "rb") as f:
            directory = tomllib.load(f)
        passwords = []

        # Every password and client secret, wherever the file keeps them.
        def walk(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in ("password", "client_secret") and isinstance(v, str):
                        passwords.append(v)
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(directory)
        check(passwords, "no passwords found in identity.toml to compare with")
        for secret in passwords:
            check(secret not in out, "a password or client secret is printed", out)

        discovery = re.search(r"discovery\s+(\S+)", out).group(1)
        c = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", ca_file, discovery],
                           capture_output=True, text=True, env=ENV)
        check(c.returncode == 0, "curl --cacert could not fetch the discovery document",
              c.stdout + c.stderr)
        doc = json.loads(c.stdout)
        check("token_endpoint" in doc and "device_authorization_endpoint" in doc,
              "the discovery document lacks endpoints", c.stdout)

        # A device login as a user does it: `mailoauth login` prints the code, we enter it at the
        # device login page with the password from identity.toml; then `mailoauth check`.
        login = subprocess.Popen([MAILOAUTH, "--config", config_file, "login", "sandbox"],
                                 env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        code = None
        seen = ""
        deadline = time.monotonic() + 20
        while code is None and time.monotonic() < deadline:
            line = login.stderr.readline()
            if not line:
                break
            seen += line
            m = re.search(r"enter the code (\S+)", line) or re.search(r"^Code: (\S+)", line)
            if m:
                code = m.group(1).rstrip(".")
        check(code is not None, "mailoauth login printed no device code", seen)
        devicelogin = re.search(r"device login\s+(\S+)", out).group(1)
        users = [u for u in directory.get("users", [])]
        account = tomllib.load(open(config_file, "rb"))["accounts"]["sandbox"]
        user = next(u for u in users if u.get("username") == account["username"])
        page = device_sign_in(devicelogin, ca_file, code, user["username"], user["password"])
        try:
            rest_out, rest_err = login.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            login.kill()
            rest_out, rest_err = login.communicate()
            check(False, "mailoauth login did not finish after the device sign-in",
                  seen + rest_err + "\n" + page)
        check(login.returncode == 0, "mailoauth login failed", seen + rest_err + "\n" + page)

        r = subprocess.run([MAILOAUTH, "--config", config_file, "check", "sandbox", "--imap",
                            "--pop", "--smtp"], env=ENV, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0, "mailoauth check sandbox failed", r.stdout + r.stderr)
        check(r.stdout.count("verdict: OK") == 3, "not three OK verdicts", r.stdout)
        assert_no_tokens(r.stdout + r.stderr, stored_secrets(os.path.join(TMP, "xdg-state")))

        # Real clients with the token from `mailoauth token`, as a user's scripts get it:
        # Python's imaplib, poplib and smtplib (the seed's XOAUTH2), and curl.
        t = subprocess.run([MAILOAUTH, "--config", config_file, "token", "sandbox"], env=ENV,
                           capture_output=True, text=True, timeout=60)
        check(t.returncode == 0 and t.stdout.strip(), "mailoauth token failed", t.stderr)
        token_file = os.path.join(TMP, "token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(t.stdout.strip())
        clients = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mail",
                               "python_clients.py")
        for mode, port in (("imaps", account["imap"]["port"]), ("pop3s", account["pop3"]["port"]),
                           ("smtp", account["smtp"]["port"])):
            c = subprocess.run([sys.executable, clients, mode, "127.0.0.1", str(port), ca_file,
                                account["username"], token_file, "ok"], capture_output=True,
                               text=True, timeout=60)
            check(c.returncode == 0, "Python's %s client with the token from `mailoauth token` "
                  "failed" % mode, c.stdout + c.stderr)
        # curl reads the token from a 0600 config file, never from its command line.
        curl_conf = os.path.join(TMP, "curl.conf")
        fd = os.open(curl_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write('oauth2-bearer = "%s"\nuser = "%s"\n' % (t.stdout.strip(),
                                                             account["username"]))
        c = subprocess.run(["curl", "--silent", "--show-error", "--noproxy", "*", "--cacert",
                            ca_file, "-K", curl_conf,
                            "imaps://127.0.0.1:%d/INBOX?ALL" % account["imap"]["port"]],
                           capture_output=True, text=True, timeout=60)
        check(c.returncode == 0 and "* SEARCH" in c.stdout,
              "curl with the token from `mailoauth token` failed", c.stdout + c.stderr)
        os.remove(curl_conf)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rest, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rest, err = p.communicate()
            check(False, "the sandbox did not stop within 10 s of SIGTERM", out + rest + err)
    check(p.returncode == 0, "the sandbox exited %d after SIGTERM" % p.returncode, out + rest + err)
    check("stopped." in rest, "the sandbox did not say it stopped", rest + err)


def port_taken():
    base = free_port_base()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", base + 3))
    blocker.listen()
    try:
        r = subprocess.run([MAILOAUTH, "sandbox", "--state", os.path.join(TMP, "state"),
                            "--port-base", str(base)], env=ENV, capture_output=True, text=True,
                           timeout=30)
    finally:
        blocker.close()
    check(r.returncode != 0, "the sandbox started although a port was taken", r.stdout + r.stderr)
    check("did not start" in r.stderr and str(base + 3) in r.stderr,
          "the error does not name the taken port", r.stderr)
    check("Serving until" not in r.stdout, "it claimed to serve", r.stdout)


def bad_state():
    not_a_folder = os.path.join(TMP, "file")
    with open(not_a_folder, "w") as f:
        f.write("x")
    r = subprocess.run([MAILOAUTH, "sandbox", "--state", os.path.join(not_a_folder, "state")],
                       env=ENV, capture_output=True, text=True, timeout=30)
    check(r.returncode != 0, "the sandbox started with an unusable state folder",
          r.stdout + r.stderr)
    check("did not start" in r.stderr, "no clear error", r.stderr)


try:
    {"demo": lambda: run_demo(False), "demo-verbose": lambda: run_demo(True), "serve": serve,
     "port-taken": port_taken, "bad-state": bad_state}[CASE]()
    print("PASS")
finally:
    subprocess.run(["rm", "-rf", TMP], check=False)
