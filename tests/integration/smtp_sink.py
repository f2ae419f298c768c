#!/usr/bin/python3
"""A real SMTP server on loopback for tests/integration/notify.sh (Debian
python3-aiosmtpd): each message it accepts is written to DIR/NNNNNN.eml as
received (CRLF kept), after two lines X-Envelope-From / X-Envelope-To and
X-Session (tls=0|1 auth=LOGIN-or-none).

  smtp_sink.py --port P --dir DIR [--mode ok|refuse|hang]
               [--tls CERT KEY] [--auth USER:PASSWORD]

ok: accept everything; refuse: 550 to every recipient; hang: accept the
TCP connection and never answer (a relay that hangs). Prints "ready" once
listening, then runs until killed.
"""
import argparse
import asyncio
import os
import socket
import ssl
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", default="ok", choices=["ok", "refuse", "hang"])
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)

    if a.mode == "hang":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", a.port))
        s.listen(16)
        print("ready", flush=True)
        held = []
        while True:
            c, _ = s.accept()
            held.append(c)  # never a byte back

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    lock = threading.Lock()

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if a.mode == "refuse":
                return "550 5.7.1 Relaying refused by the test relay"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            with lock:
                n = len([f for f in os.listdir(a.dir) if f.endswith(".eml")])
                tmp = os.path.join(a.dir, ".tmp%06d" % n)
                with open(tmp, "wb") as f:
                    f.write(b"X-Envelope-From: %s\r\n" % envelope.mail_from.encode())
                    f.write(b"X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos).encode())
                    f.write(b"X-Session: tls=%d auth=%s\r\n" % (
                        1 if session.ssl else 0,
                        (session.authenticated and b"yes" or b"none")))
                    f.write(envelope.original_content)
                os.rename(tmp, os.path.join(a.dir, "%06d.eml" % n))
            return "250 OK: queued"

    kw = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, pw = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login.decode() == user and
                  auth_data.password.decode() == pw)
            return AuthResult(success=ok)
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=bool(a.tls))
    ctl = Controller(Handler(), hostname="127.0.0.1", port=a.port,
                     ready_timeout=10, **kw)
    ctl.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    sys.exit(main())
