#!/usr/bin/python3
"""bench/login_bench.py — logins per second against one relgated: CONC
client processes, each signing in as its own share of the users (a TOTP
code can be used once, so every login is a user of its own), opening the
SFTP subsystem and closing. Prints the wall time and logins/s as JSON.

  login_bench.py PORT KEYDIR SECRETDIR CONC FIRST COUNT

Users are u00000 .. in KEYDIR/USER (private key); with SECRETDIR not "-",
SECRETDIR/USER holds the base32 TOTP secret and the keyboard-interactive
prompt is answered with the current code.
"""
import json
import multiprocessing
import os
import socket
import sys
import time

import paramiko

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
from mfa_client import totp  # noqa: E402  RFC 6238, as the tests compute it

PERIOD = 30  # relgated's default totp_period; login_bench.sh sets no other


def worker(args):
    port, keydir, secretdir, users = args
    keys = {u: paramiko.Ed25519Key.from_private_key_file("%s/%s" % (keydir, u))
            for u in users}
    secrets = {}
    if secretdir != "-":
        secrets = {u: open("%s/%s" % (secretdir, u)).read() for u in users}
    failed = 0
    for u in users:
        try:
            t = paramiko.Transport(socket.create_connection(
                ("127.0.0.1", port), timeout=60))
            t.start_client(timeout=60)
            rest = t.auth_publickey(u, keys[u])
            if rest:
                t.auth_interactive(u, lambda title, ins, prompts: [
                    totp(secrets[u], int(time.time()) // PERIOD)
                    for _p in prompts])
            ch = t.open_session()
            ch.invoke_subsystem("sftp")
            ch.close()
            t.close()
        except Exception as e:  # counted; the figure is then void
            print("%s: %s: %s" % (u, type(e).__name__, e), file=sys.stderr)
            failed += 1
    return failed


def main():
    port, keydir, secretdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    conc, first, count = (int(x) for x in sys.argv[4:7])
    users = ["u%05d" % i for i in range(first, first + count)]
    shares = [users[i::conc] for i in range(conc)]
    with multiprocessing.Pool(conc) as pool:
        pool.map(time.sleep, [0.0] * conc)	# the processes are up
        t0 = time.time()
        failed = sum(pool.map(worker, [(port, keydir, secretdir, s)
                                       for s in shares]))
        t1 = time.time()
    print(json.dumps({"logins": count, "failed": failed,
                      "seconds": t1 - t0, "per_second": count / (t1 - t0)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
