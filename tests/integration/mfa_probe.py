#!/usr/bin/python3
"""tests/integration/mfa_probe.py — one login with layered authentication,
as paramiko does it (auth_publickey, then auth_interactive), with the
answers a test asks for: the right or a wrong code, a code from another
time step, a code used before, too many or too few answers, a 64 KiB
answer, a NUL inside one.

  mfa_probe.py PORT USER KEY [options]
    --password PW        answer "Password:" with PW
    --secret FILE        base32 TOTP secret: answer "Verification code:"
    --steps N            ... with the code N time steps away (default 0)
    --code CODE          ... with CODE as typed
    --period S           the time step (default 30)
    --answers N          send N answers whatever was asked
    --big N              answer every prompt with N bytes of '7'
    --nul                put a NUL after the second byte of every answer
    --source ADDR        connect from this local address
    --key-only           stop after the key: no keyboard-interactive

Prints what happened; exit 0 logged in and listed '/', 3 refused at
sign-in (the server said no), 4 no SSH banner (closed at once: a ban),
5 the key alone was refused, 2 other errors.
"""
import socket
import sys
import time

import paramiko

from mfa_client import totp  # RFC 6238, as an authenticator app computes it


def main(argv):
    port, user, keyfile = int(argv[0]), argv[1], argv[2]
    opts, i = {}, 3
    flags = ("--nul", "--key-only")
    while i < len(argv):
        if argv[i] in flags:
            opts[argv[i]] = True
            i += 1
        else:
            opts[argv[i]] = argv[i + 1]
            i += 2
    period = int(opts.get("--period", 30))

    def answer(prompt):
        if "--big" in opts:
            a = "7" * int(opts["--big"])
        elif "Password" in prompt:
            a = opts.get("--password", "")
        elif "--code" in opts:
            a = opts["--code"]
        elif "--secret" in opts:
            step = int(time.time()) // period + int(opts.get("--steps", 0))
            a = totp(open(opts["--secret"]).read(), step)
        else:
            a = ""
        if "--nul" in opts:
            a = a[:2] + "\0" + a[2:]
        return a

    def handler(title, instructions, prompts):
        answers = [answer(p) for p, _echo in prompts]
        print("prompts: %s" % [p for p, _e in prompts])
        if "--answers" in opts:
            n = int(opts["--answers"])
            answers = (answers + answers + ["x"] * n)[:n]
        return answers

    src = opts.get("--source")
    try:
        sock = socket.create_connection(
            ("127.0.0.1", port), timeout=30,
            source_address=(src, 0) if src else None)
        t = paramiko.Transport(sock)
        t.banner_timeout = 30
        t.start_client(timeout=30)
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("no banner: %s" % e)
        return 4
    key = paramiko.Ed25519Key.from_private_key_file(keyfile)
    try:
        rest = t.auth_publickey(user, key)
    except paramiko.AuthenticationException as e:
        print("key refused: %s" % e)
        return 5
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("connection lost at the key: %s" % e)
        return 3
    print("after the key: %s" % rest)
    if rest and "--key-only" in opts:
        return 3
    try:
        if rest:
            left = t.auth_interactive(user, handler)
            if left:
                print("still to present: %s" % left)
                return 3
        sftp = paramiko.SFTPClient.from_transport(t)
        print("logged in: %s" % sorted(sftp.listdir("/")))
        sftp.close()
        t.close()
        return 0
    except paramiko.AuthenticationException as e:
        print("refused: %s" % e)
        return 3
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("connection lost: %s" % e)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
