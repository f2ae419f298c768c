"""tests/integration/mfa_client.py — layered authentication for the
paramiko clients of the tests (imported, not run).

relgated takes the SSH key first; when the user's roles ask for more it
answers "partial success" and one keyboard-interactive round asks
"Password: " and/or "Verification code: " (product.md, "Signing in").
login() does what a person at an SSH client does: the key, then the
answers. The password is the run's (RG_TEST_PASSWORD, made by
tests/integration/mfa_lib.sh), the code is computed from the user's secret
(RG_TEST_TOTP_DIR/USER, base32, or a file given) as an authenticator app
computes it (RFC 6238).
"""
import base64
import hashlib
import hmac
import os
import struct
import sys
import time

import paramiko

PERIOD = int(os.environ.get("RG_TEST_TOTP_PERIOD", "30"))


def totp(secret_b32, step, digits=6):
    """RFC 6238 with SHA-1 (RFC 4226 truncation) for one time step."""
    s = secret_b32.strip().replace(" ", "").upper()
    key = base64.b32decode(s + "=" * (-len(s) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    val = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return "%0*d" % (digits, val % 10 ** digits)


def secret_file(user):
    d = os.environ.get("RG_TEST_TOTP_DIR")
    return os.path.join(d, user) if d else None


def code_for(user, path=None):
    """The code of this time step for user, from the secret in path or
    RG_TEST_TOTP_DIR/USER; there the step is noted in USER.step (as the
    askpass of mfa_lib.sh does) for totp_wait. None without a secret."""
    note = path is None
    path = path or secret_file(user)
    if not path or not os.path.exists(path):
        return None
    step = int(time.time()) // PERIOD
    if note:
        with open(path + ".step", "w") as f:
            f.write("%d\n" % step)
    with open(path) as f:
        return totp(f.read(), step)


def handler(user, password=None, totp_path=None):
    """A keyboard-interactive handler answering relgated's prompts. It
    runs in paramiko's transport thread, where an exception would only
    end the connection: what it cannot answer it answers empty (the
    server refuses that), and says so on stderr."""
    def answer(title, instructions, prompts):
        out = []
        for prompt, _echo in prompts:
            a = None
            if "Password" in prompt:
                a = password if password is not None else \
                    os.environ.get("RG_TEST_PASSWORD")
            elif "Verification code" in prompt:
                a = code_for(user, totp_path)
            if a is None:
                sys.stderr.write("mfa_client: no answer for %s to %r\n" %
                                 (user, prompt))
                a = ""
            out.append(a)
        return out
    return answer


def login(t, user, key, password=None, totp_path=None):
    """Sign in on transport t: the key, then, on partial success, the
    keyboard-interactive round. Raises paramiko.AuthenticationException
    (or SSHException, EOFError) when refused, as auth_publickey does.
    A key the server refuses is refused here before any prompt."""
    rest = t.auth_publickey(user, key)
    if not rest:
        return
    if "keyboard-interactive" not in rest:
        raise paramiko.AuthenticationException(
            "partial success, but the server offers %s" % rest)
    rest = t.auth_interactive(user, handler(user, password, totp_path))
    if rest or not t.is_authenticated():
        raise paramiko.AuthenticationException(
            "still to present after the prompt: %s" % rest)
