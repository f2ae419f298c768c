#!/usr/bin/python3
"""SSH client probes for relgated's integration tests (paramiko).

Each subcommand exits 0 when the server behaved as a secure gateway must,
1 when it did not, and prints one line saying what happened. "Log in" is
the whole of layered authentication (mfa_client.login): the key, then the
password and/or code the server asks for at its keyboard-interactive
prompt.

  login PORT USER KEY [--source ADDR] [--channels N]
        log in with KEY, open N sftp channels on the one connection, list /
        in each; exit 0 when that worked ("in"), 3 when authentication was
        refused ("refused")
  burst PORT USER KEY N --source ADDR
        open N connections from ADDR and finish their key exchange, then
        send all N signed attempts at the same moment; prints how many
        had the key accepted ("in": logged in, or asked for the other
        factors) and how many were refused (exit 0)
  hold PORT USER KEY SECONDS
        log in and keep the session open for SECONDS (exit 0 if it stayed
        usable, 4 if the server ended it)
  probe-swap PORT USER KEY_A KEY_B
        offer KEY_A without signature (the server must answer PK_OK), then
        send a signed request with KEY_B for the same user: must be refused
        (neither logged in nor asked for another factor)
  methods PORT USER
        none, password and keyboard-interactive must all be refused and
        only publickey offered
  channel-before-auth PORT
        open a session channel before authenticating: must fail
  inject-success PORT USER
        send SSH_MSG_USERAUTH_SUCCESS to the server ourselves, then open a
        channel: must fail (CVE-2018-10933)
"""
import socket
import sys
import threading
import time

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.common import (MSG_SERVICE_ACCEPT, MSG_USERAUTH_INFO_REQUEST,
                             cMSG_SERVICE_REQUEST, cMSG_USERAUTH_REQUEST,
                             cMSG_USERAUTH_SUCCESS)
from paramiko.message import Message

from mfa_client import login

HOST = "127.0.0.1"


def transport(port, source=None):
    sock = socket.create_connection((HOST, int(port)), timeout=15,
                                    source_address=(source, 0) if source else None)
    t = paramiko.Transport(sock)
    t.banner_timeout = 15
    t.auth_timeout = 15
    t.start_client(timeout=15)
    return t


def load_key(path):
    return paramiko.Ed25519Key.from_private_key_file(path)


def cmd_login(args):
    port, user, key = args[:3]
    source, channels = None, 1
    rest = args[3:]
    while rest:
        if rest[0] == "--source":
            source = rest[1]
        elif rest[0] == "--channels":
            channels = int(rest[1])
        rest = rest[2:]
    try:
        t = transport(port, source)
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("refused: connection closed before the handshake: %s" % e)
        return 3
    try:
        login(t, user, load_key(key))
    except paramiko.AuthenticationException as e:
        print("refused: %s" % e)
        return 3
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("refused: connection ended: %s" % e)
        return 3
    clients = [paramiko.SFTPClient.from_transport(t) for _ in range(channels)]
    names = [sorted(c.listdir("/")) for c in clients]
    for c in clients:
        c.close()
    t.close()
    print("in: %s" % names)
    return 0


def cmd_burst(args):
    port, user, key, n = args[:4]
    source = args[5] if len(args) > 5 and args[4] == "--source" else None
    pkey = load_key(key)
    ts = []
    for _ in range(int(n)):
        try:
            ts.append(transport(port, source))
        except (paramiko.SSHException, EOFError, OSError):
            pass
    go = threading.Barrier(len(ts)) if ts else None
    results = []

    def attempt(t):
        go.wait()
        try:
            # the key alone: accepted (partial success or not) is "in"
            t.auth_publickey(user, pkey)
            results.append("in")
        except (paramiko.SSHException, EOFError, OSError):
            results.append("refused")
        t.close()

    threads = [threading.Thread(target=attempt, args=(t,)) for t in ts]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print("in %d refused %d of %d" % (results.count("in"),
          results.count("refused"), int(n)))
    return 0


def cmd_hold(args):
    port, user, key, secs = args[:4]
    t = transport(port)
    login(t, user, load_key(key))
    c = paramiko.SFTPClient.from_transport(t)
    c.listdir("/")
    print("in", flush=True)
    time.sleep(float(secs))
    try:
        c.listdir("/")
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("ended by the server: %s" % e)
        return 4
    t.close()
    print("still usable")
    return 0


# ---- probe with one key, sign with another -------------------------------

class SwapAuth(AuthHandler):
    """Probe with key_a (no signature), then sign with key_b."""
    key_a = None
    pk_ok = False

    def _swap_service_accept(self, m):
        m.get_text()
        out = Message()
        out.add_byte(cMSG_USERAUTH_REQUEST)
        out.add_string(self.username)
        out.add_string("ssh-connection")
        out.add_string("publickey")
        out.add_boolean(False)
        out.add_string(self.key_a.get_name())
        out.add_string(self.key_a.asbytes())
        self.transport._send_message(out)

    def _swap_pk_ok(self, m):
        # SSH_MSG_USERAUTH_PK_OK shares number 60 with INFO_REQUEST
        SwapAuth.pk_ok = True
        key = self.private_key
        out = Message()
        out.add_byte(cMSG_USERAUTH_REQUEST)
        out.add_string(self.username)
        out.add_string("ssh-connection")
        out.add_string("publickey")
        out.add_boolean(True)
        out.add_string(key.get_name())
        out.add_string(key.asbytes())
        blob = self._get_session_blob(key, "ssh-connection", self.username,
                                      key.get_name())
        out.add_string(key.sign_ssh_data(blob))
        self.transport._send_message(out)

    _client_handler_table = dict(AuthHandler._client_handler_table)
    _client_handler_table[MSG_SERVICE_ACCEPT] = _swap_service_accept
    _client_handler_table[MSG_USERAUTH_INFO_REQUEST] = _swap_pk_ok


def cmd_probe_swap(args):
    port, user, key_a, key_b = args[:4]
    t = transport(port)
    h = SwapAuth(t)
    SwapAuth.key_a = load_key(key_a)
    h.username = user
    h.auth_method = "publickey"
    h.private_key = load_key(key_b)
    h.auth_event = threading.Event()
    t.auth_handler = h
    m = Message()
    m.add_byte(cMSG_SERVICE_REQUEST)
    m.add_string("ssh-userauth")
    t._send_message(m)
    try:
        # a list back is partial success: key B would have been accepted
        rest = h.wait_for_response(h.auth_event)
        ok = t.is_authenticated() or bool(rest)
    except (paramiko.AuthenticationException, paramiko.SSHException,
            EOFError) as e:
        ok = False
        print("signed attempt refused: %s" % e)
    t.close()
    print("pk_ok=%s authenticated=%s" % (SwapAuth.pk_ok, ok))
    return 0 if SwapAuth.pk_ok and not ok else 1


def cmd_methods(args):
    port, user = args[:2]
    bad = []
    t = transport(port)
    try:
        t.auth_none(user)
        bad.append("none accepted")
    except paramiko.BadAuthenticationType as e:
        if list(e.allowed_types) != ["publickey"]:
            bad.append("offered %s" % e.allowed_types)
    except paramiko.AuthenticationException:
        pass
    for what, fn in (("password", lambda: t.auth_password(user, "secret")),
                     ("keyboard-interactive",
                      lambda: t.auth_interactive(user, lambda *a: ["secret"]))):
        try:
            fn()
            bad.append("%s accepted" % what)
        except (paramiko.AuthenticationException, paramiko.SSHException):
            pass
    ok = not t.is_authenticated() and not bad
    t.close()
    print("refused all" if ok else "FAILED: %s" % bad)
    return 0 if ok else 1


def try_channel(t):
    try:
        ch = t.open_session(timeout=5)
        ch.invoke_subsystem("sftp")
        return True
    except (paramiko.SSHException, EOFError, OSError):
        return False


def cmd_channel_before_auth(args):
    t = transport(args[0])
    opened = try_channel(t)
    t.close()
    print("channel opened!" if opened else "channel refused")
    return 1 if opened else 0


def cmd_inject_success(args):
    port, user = args[:2]
    t = transport(port)
    m = Message()
    m.add_byte(cMSG_SERVICE_REQUEST)
    m.add_string("ssh-userauth")
    t._send_message(m)
    time.sleep(0.3)
    m = Message()
    m.add_byte(cMSG_USERAUTH_SUCCESS)
    t._send_message(m)
    # behave as if it had worked: mark ourselves authenticated
    t.auth_handler = AuthHandler(t)
    t.auth_handler.authenticated = True
    t.auth_handler.username = user
    time.sleep(0.3)
    opened = try_channel(t)
    t.close()
    print("channel opened!" if opened else "channel refused")
    return 1 if opened else 0


# ---- back-pressure: requests far ahead of the replies ---------------------

def sftp_packet(ptype, payload):
    import struct
    return struct.pack(">IB", len(payload) + 1, ptype) + payload


def sstr(b):
    import struct
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def read_packet(ch, buf):
    import struct
    while len(buf) < 4:
        d = ch.recv(1 << 20)
        if not d:
            return None, buf
        buf += d
    n = struct.unpack(">I", buf[:4])[0]
    while len(buf) < 4 + n:
        d = ch.recv(1 << 20)
        if not d:
            return None, buf
        buf += d
    return buf[4:4 + n], buf[4 + n:]


def cmd_flood(args):
    """flood PORT USER KEY PATH BIG SMALL: BIG 32 KiB READs then SMALL
    16-byte READs of PATH, all sent before any reply is read; every reply
    must come back, in order, with the right data."""
    import struct
    port, user, key, path, big, small = args[:6]
    big, small = int(big), int(small)
    t = transport(port)
    login(t, user, load_key(key))
    ch = t.open_session()
    ch.invoke_subsystem("sftp")
    ch.sendall(sftp_packet(1, struct.pack(">I", 3)))
    buf = b""
    pkt, buf = read_packet(ch, buf)
    assert pkt and pkt[0] == 2, "no VERSION"
    ch.sendall(sftp_packet(3, struct.pack(">I", 1) + sstr(path) +
                           struct.pack(">II", 1, 0)))
    pkt, buf = read_packet(ch, buf)
    assert pkt and pkt[0] == 102, "OPEN failed: %r" % pkt[:40]
    handle = pkt[9:9 + struct.unpack(">I", pkt[5:9])[0]]
    data = open(args[6], "rb").read() if len(args) > 6 else None
    reqs = []
    for i in range(big):
        reqs.append((i * 4096, 32768))
    for i in range(small):
        reqs.append(((i * 7) % 100000, 16))
    sent_all = threading.Event()
    errors = []

    def sender():
        try:
            chunk = []
            for i, (off, ln) in enumerate(reqs):
                chunk.append(sftp_packet(5, struct.pack(">I", 10 + i) +
                                         sstr(handle) +
                                         struct.pack(">QI", off, ln)))
                if len(chunk) == 512:
                    ch.sendall(b"".join(chunk))
                    chunk = []
            ch.sendall(b"".join(chunk))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        sent_all.set()

    th = threading.Thread(target=sender)
    th.start()
    time.sleep(2)       # let requests pile up far ahead of the replies
    got = 0
    for i, (off, ln) in enumerate(reqs):
        pkt, buf = read_packet(ch, buf)
        if pkt is None:
            print("channel ended after %d replies" % got)
            return 1
        rid = struct.unpack(">I", pkt[1:5])[0]
        if pkt[0] != 103 or rid != 10 + i:
            print("reply %d: type %d id %d" % (i, pkt[0], rid))
            return 1
        body = pkt[9:9 + struct.unpack(">I", pkt[5:9])[0]]
        if data is not None and body != data[off:off + ln]:
            print("reply %d: wrong data" % i)
            return 1
        got += 1
    th.join()
    ch.close()
    t.close()
    if errors:
        print("sender: %s" % errors[0])
        return 1
    print("%d replies in order with the right data" % got)
    return 0


def cmd_garbage(args):
    """garbage PORT USER KEY: a 256 MiB length prefix on one channel must
    close that channel only; a second channel on the same connection keeps
    working."""
    import struct
    port, user, key = args[:3]
    t = transport(port)
    login(t, user, load_key(key))
    good = paramiko.SFTPClient.from_transport(t)
    closed = True
    # a 256 MiB length prefix, then a whole 3 MiB packet: both far past
    # any SFTP packet; each must close its channel, not hang it
    for size, body in ((256 << 20, 60000), ((3 << 20) - 1, (3 << 20) - 1)):
        ch = t.open_session()
        ch.invoke_subsystem("sftp")
        ch.settimeout(20)
        try:
            ch.sendall(struct.pack(">I", size) + b"\x01" * body)
        except (socket.timeout, OSError, EOFError):
            pass
        try:
            while ch.recv(65536):
                pass
        except socket.timeout:
            closed = False
    names = good.listdir("/")
    t.close()
    print("bad channel closed=%s, other channel lists %s" % (closed, names))
    return 0 if closed and names else 1


def cmd_tries(args):
    """tries PORT USER WRONG_KEY GOOD_KEY: after 6 refused keys on one
    connection the right key is refused too (the connection ends): neither
    the key nor, after it, the other factors get the user in."""
    port, user, wrong, good = args[:4]
    t = transport(port)
    refused = 0
    for _ in range(6):
        try:
            t.auth_publickey(user, load_key(wrong))
        except (paramiko.AuthenticationException, paramiko.SSHException,
                EOFError):
            refused += 1
    try:
        login(t, user, load_key(good))
        ok = t.is_authenticated()
    except (paramiko.AuthenticationException, paramiko.SSHException,
            EOFError, OSError):
        ok = False
    t.close()
    print("refused %d wrong keys, then the right key %s" %
          (refused, "accepted!" if ok else "refused"))
    return 0 if refused == 6 and not ok else 1


def main():
    cmds = {"login": cmd_login, "hold": cmd_hold, "tries": cmd_tries,
            "burst": cmd_burst,
            "flood": cmd_flood, "garbage": cmd_garbage,
            "probe-swap": cmd_probe_swap, "methods": cmd_methods,
            "channel-before-auth": cmd_channel_before_auth,
            "inject-success": cmd_inject_success}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
