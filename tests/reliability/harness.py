"""The reliability tests' shared parts: `gridloop serve` as a process that can be started, killed
and restarted on the same file, a plain HTTP client, the CLI's export and verify, and the log checks.
Python's standard library only."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ADMIN = "reliability-admin-token-0001"
TOKENS = [{"token": ADMIN, "subject": "root", "role": "admin"}]


def event(type_, data, event_id=None, expected_version=None):
    e = {"type": type_, "data": data}
    if event_id is not None:
        e["event_id"] = event_id
    if expected_version is not None:
        e["expected_version"] = expected_version
    return e


def report(case_id, event_id=None):
    return event("IssueReported", {"case_id": case_id, "category": "noise", "description": "x", "source": "patrol",
                                   "grid_id": "m1"}, event_id)


ORG = {"events": [
    event("GridDefined", {"grid_id": "t", "name": "宝华镇", "level": "town", "parent_id": None}),
    event("GridDefined", {"grid_id": "c", "name": "新城社区", "level": "community", "parent_id": "t"}),
    event("GridDefined", {"grid_id": "g", "name": "第一网格", "level": "grid", "parent_id": "c"}),
    event("GridDefined", {"grid_id": "m1", "name": "一号楼", "level": "micro", "parent_id": "g"}),
]}


class Workdir:
    """A fresh directory with a tokens file and a database path, removed at the end."""

    def __init__(self, tag):
        self.path = tempfile.mkdtemp(prefix=f"gridloop-{tag}-")
        self.db = os.path.join(self.path, "log.db")
        self.tokens = os.path.join(self.path, "tokens.json")
        with open(self.tokens, "w") as f:
            json.dump(TOKENS, f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class Server:
    """`gridloop serve` on a free loopback port; start() again after kill() reopens the same file."""

    def __init__(self, binary, db, tokens, **popen_kwargs):
        self.binary, self.db, self.tokens, self.popen_kwargs = binary, db, tokens, popen_kwargs
        self.proc = None
        self.port = None
        self.output = []  # every line the last process wrote, stdout and stderr

    def start(self, timeout=20):
        self.output = []
        self.port = None
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--db", self.db, "--listen", "127.0.0.1:0", "--tokens", self.tokens, "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **self.popen_kwargs)
        started = threading.Event()
        proc, output = self.proc, self.output

        def drain():
            for line in proc.stdout:
                output.append(line.rstrip("\n"))
                m = re.search(r"on http://127\.0\.0\.1:(\d+)/ \(head position", line)
                if m:
                    self.port = int(m.group(1))
                    started.set()
            started.set()  # the process ended before it served

        threading.Thread(target=drain, daemon=True).start()
        if not started.wait(timeout) or self.port is None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            raise RuntimeError("gridloop serve did not start: " + "\n".join(self.output))
        return self.port

    def serving(self):
        return self.proc is not None and self.proc.poll() is None and self.port is not None

    def kill(self, sig=signal.SIGKILL, timeout=20):
        """Sends sig and waits for the process; returns its exit code (-signal when killed)."""
        self.port = None  # first: clients stop sending to it
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def request(self, method, path, body=None, **kw):
        return request(self.port, method, path, body, **kw)


class Response:
    def __init__(self, status, content_type, body, retry_after=None):
        self.status, self.content_type, self.body, self.retry_after = status, content_type or "", body, retry_after

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status} {self.body[:300]!r}"


def request(port, method, path, body=None, token=ADMIN, timeout=10, headers=None):
    """One request on a fresh connection; None when no whole response came back (refused, reset, timed out)."""
    if port is None:
        return None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data.encode() if isinstance(data, str) else data, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.getheader("Content-Type"), r.read().decode("utf-8", "replace"), r.getheader("Retry-After"))
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def cli(binary, *args, timeout=60, **popen_kwargs):
    """Runs the gridloop CLI; returns the CompletedProcess (text)."""
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, **popen_kwargs)


def export(binary, db):
    r = cli(binary, "export", "--db", db)
    if r.returncode != 0:
        raise AssertionError(f"gridloop export failed ({r.returncode}): {r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines() if line]


def verify(binary, db):
    """The output of `gridloop verify`; raises unless it exits 0."""
    r = cli(binary, "verify", "--db", db)
    if r.returncode != 0:
        raise AssertionError(f"gridloop verify failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout.strip()


def check_gapless(envelopes):
    """Positions 1..n in order, each once, and each event_id once."""
    for i, e in enumerate(envelopes, start=1):
        if e["position"] != i:
            raise AssertionError(f"position {e['position']} found where {i} was expected (a gap or a repeat)")
    ids = [e["event_id"] for e in envelopes]
    if len(set(ids)) != len(ids):
        raise AssertionError("an event_id is in the log twice")


class Sse:
    """A /v1/subscribe stream read on a thread: collects (id, data) pairs until stop() or close."""

    def __init__(self, port, after=None, last_event_id=None, token=ADMIN):
        self.events = []  # (position, data text)
        self.error = None
        self.closed = threading.Event()
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        path = "/v1/subscribe" + (f"?after={after}" if after is not None else "")
        headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._conn.request("GET", path, headers=headers)
        self._response = self._conn.getresponse()
        if self._response.status != 200:
            raise AssertionError(f"subscribe answered {self._response.status}")
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        current = {}
        try:
            while True:
                line = self._response.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\n")
                if line == "":
                    if "id" in current:
                        with self._lock:
                            self.events.append((int(current["id"]), current.get("data", "")))
                    current = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    current[field] = value[1:] if value.startswith(" ") else value
        except Exception as e:  # noqa: BLE001 - a cut stream ends the reading, whatever the client library raises
            self.error = e
        finally:
            self.closed.set()

    def last_id(self):
        with self._lock:
            return self.events[-1][0] if self.events else None

    def wait_for(self, position, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed.is_set():
            last = self.last_id()
            if last is not None and last >= position:
                return True
            time.sleep(0.02)
        last = self.last_id()
        return last is not None and last >= position

    def close(self):
        try:
            self._conn.sock.shutdown(socket.SHUT_RDWR)  # the reading thread sees the end and returns
        except OSError:
            pass
        self._thread.join(5)
        self._conn.close()
