#!/usr/bin/python3
"""Load and brute force at once against a running relgated.

  security_load.py PORT KEYDIR NSESSIONS NUSERS WRONG_KEY ATTEMPTS SOURCE...

NSESSIONS sessions from 127.0.0.1, as users load-00 .. load-(NUSERS-1)
(private keys KEYDIR/load-NN), all logged in at the same time (a barrier
holds each one until every session is in), then each makes its own
request folder, uploads a small file of its own random bytes, downloads
it and compares. Each logs in with its key and then what relgated asks
at the keyboard-interactive prompt (mfa_client.login: the run's password,
RG_TEST_PASSWORD). Meanwhile, from every SOURCE address (another loopback
address), a client tries ATTEMPTS logins as "victim" with WRONG_KEY, one
after another: a wrong key must be refused at the key, before any prompt
(a key accepted, even with "partial success", counts as "IN").

Prints one JSON object: {"ok": n, "failed": [reasons], "elapsed": s,
"max_concurrent": n, "brute": {SOURCE: ["refused"|"closed", ...]}}.
"""
import json
import os
import socket
import sys
import threading
import time

import logging

import paramiko

from mfa_client import login

# Banned connections end before the banner: expected, not worth a traceback.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)

PORT = int(sys.argv[1])
KEYDIR = sys.argv[2]
NSESS = int(sys.argv[3])
NUSERS = int(sys.argv[4])
WRONG = sys.argv[5]
ATTEMPTS = int(sys.argv[6])
PAUSE = float(os.environ.get("BRUTE_PAUSE", "0.05"))
SOURCES = sys.argv[7:]

barrier = threading.Barrier(NSESS, timeout=90)
lock = threading.Lock()
ok = [0]
failed = []
inside = [0, 0]         # now, max
brute = {s: [] for s in SOURCES}


def transport(source):
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=60,
                                    source_address=(source, 0))
    t = paramiko.Transport(sock)
    t.banner_timeout = 60
    t.auth_timeout = 60
    t.start_client(timeout=60)
    return t


def session(i):
    user = "load-%02d" % (i % NUSERS)
    t = None
    step = "connect"
    try:
        key = paramiko.Ed25519Key.from_private_key_file(
            os.path.join(KEYDIR, user))
        t = transport("127.0.0.1")
        step = "auth"
        login(t, user, key)
        step = "sftp"
        c = paramiko.SFTPClient.from_transport(t)
        with lock:
            inside[0] += 1
            inside[1] = max(inside)
        step = "barrier"
        barrier.wait()
        step = "mkdir"
        folder = "/requests/s%03d" % i
        c.mkdir(folder)
        data = os.urandom(2048) + ("session %d\n" % i).encode()
        step = "put"
        with c.open(folder + "/data.csv", "wb") as f:
            f.write(data)
        step = "get"
        with c.open(folder + "/data.csv", "rb") as f:
            back = f.read()
        if back != data:
            raise ValueError("downloaded bytes differ (%d vs %d)" %
                             (len(back), len(data)))
        step = "list"
        if "data.csv" not in c.listdir(folder):
            raise ValueError("data.csv not listed")
        c.close()
        with lock:
            ok[0] += 1
    except Exception as e:      # every failure is a finding: report it
        with lock:
            failed.append("session %d (%s) at %s: %s: %s" % (
                i, user, step, type(e).__name__, e))
        try:
            barrier.abort()
        except Exception:
            pass
    finally:
        if t is not None:
            t.close()


def bruteforce(source):
    key = paramiko.Ed25519Key.from_private_key_file(WRONG)
    for _ in range(ATTEMPTS):
        try:
            t = transport(source)
        except (paramiko.SSHException, EOFError, OSError):
            brute[source].append("closed")     # no banner: banned
            time.sleep(PAUSE)
            continue
        try:
            t.auth_publickey("victim", key)
            brute[source].append("IN")         # must never happen
        except paramiko.AuthenticationException:
            brute[source].append("refused")
        except (paramiko.SSHException, EOFError, OSError):
            brute[source].append("closed")
        finally:
            t.close()
        time.sleep(PAUSE)


def burst(source, n):
    """n wrong-key logins at once from source, then one more after."""
    res = []
    key = paramiko.Ed25519Key.from_private_key_file(WRONG)

    def one():
        try:
            t = transport(source)
        except (paramiko.SSHException, EOFError, OSError):
            res.append("closed")
            return
        try:
            t.auth_publickey("victim", key)
            res.append("IN")
        except paramiko.AuthenticationException:
            res.append("refused")
        except (paramiko.SSHException, EOFError, OSError):
            res.append("closed")
        finally:
            t.close()
    ths = [threading.Thread(target=one) for _ in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    time.sleep(1)
    one()
    brute["burst " + source] = res


BURST = os.environ.get("BURST_SOURCE")
start = time.time()
threads = [threading.Thread(target=bruteforce, args=(s,)) for s in SOURCES]
if BURST:
    threads.append(threading.Thread(target=burst, args=(BURST, 20)))
threads += [threading.Thread(target=session, args=(i,)) for i in range(NSESS)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print(json.dumps({"ok": ok[0], "failed": failed, "max_concurrent": inside[1],
                  "elapsed": round(time.time() - start, 1), "brute": brute}))
