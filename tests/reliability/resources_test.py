#!/usr/bin/env python3
"""Resources, end to end through the `gridloop` binary:
- no space: the server's file-size limit (RLIMIT_FSIZE, lowered and raised again from outside with
  prlimit, as a disk fills and is cleared) stops the log's files from growing. Appends answer 503
  with a problem+json naming the cause, reads keep working, nothing is half-applied, and the same
  requests are appended once space returns, without a restart;
- a file that is read-only when the server starts: reads are served, writes answer 503 naming the
  cause, and writes resume once the file is writable again, without a restart;
- damaged files (random bytes, truncated, a few pages overwritten): serve and verify (and export,
  where SQLite can tell) refuse them, exit 1 with a message naming the file and what is wrong, and
  leave them untouched.

usage: resources_test.py GRIDLOOP_BINARY"""

import os
import random
import resource
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def problem(r, status, *words):
    assert r is not None, "no answer"
    assert r.status == status, f"expected {status}, got {r}"
    assert r.content_type.startswith("application/problem+json"), r.content_type
    if status == 503:
        assert r.retry_after == "5", f"a 503 without Retry-After: 5 ({r.retry_after!r})"
    detail = r.json()["detail"]
    for w in words:
        assert w in detail, f"{w!r} is not in {detail!r}"
    return detail


def reads_work(server, head, present, absent):
    """The reads that matter while writes fail: projections, raw events, the audit chain."""
    assert server.request("GET", "/healthz").status == 200
    assert server.request("GET", f"/v1/cases/{present}").status == 200
    assert server.request("GET", f"/v1/cases/{absent}").status == 404
    events = server.request("GET", "/v1/events?after=0&limit=1000").json()
    events = events["events"] if isinstance(events, dict) else events
    assert [e["position"] for e in events] == list(range(1, head + 1))
    assert server.request("GET", "/v1/audit/head").json()["position"] == head
    audit = server.request("GET", "/v1/audit/verify").json()
    assert audit["ok"] and audit["checked"] == head, audit


def setup(server):
    assert server.request("POST", "/v1/events", h.ORG).status == 201
    assert server.request("POST", "/v1/events", h.report("before", "before")).status == 201
    return 5


SINGLE = h.report("x1", "x1")
BATCH = {"events": [h.report(f"x{i}", f"x{i}") for i in (2, 3, 4)]}


def resume(server, head):
    """The requests that failed are appended whole, once, where the log stood."""
    r = server.request("POST", "/v1/events", SINGLE)
    assert r is not None and r.status == 201 and r.json()["position"] == head + 1, f"after recovery: {r}"
    r = server.request("POST", "/v1/events", BATCH)
    assert r is not None and r.status == 201, f"after recovery: {r}"
    assert [e["position"] for e in r.json()["events"]] == [head + 2, head + 3, head + 4]


def check_log(binary, db, head):
    """x1..x4 once each, right after the `head` events before them; gapless; the chain verifies."""
    envs = h.export(binary, db)
    h.check_gapless(envs)
    assert [e["event_id"] for e in envs[head:head + 4]] == ["x1", "x2", "x3", "x4"]
    assert sum(e["event_id"].startswith("x") for e in envs) == 4
    return h.verify(binary, db)


def no_space(binary):
    with h.Workdir("full") as work:
        # SIGXFSZ ignored (it survives exec), so that a write past the limit fails with EFBIG
        # instead of killing the server: what a full disk does, with ENOSPC.
        server = h.Server(binary, work.db, work.tokens, preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
        server.start()
        try:
            head = setup(server)
            pid = server.proc.pid
            soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            # No file may grow past its size now: the WAL, where every commit goes, is full.
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (os.path.getsize(work.db + "-wal"), hard))
            for body in (SINGLE, BATCH, SINGLE):  # again: the writer survived the first failure
                detail = problem(server.request("POST", "/v1/events", body), 503, "no space is left for the event log",
                                 "retry later with the same event_id")
            reads_work(server, head, "before", "x1")
            r = server.request("POST", "/v1/events", h.report("before", "before"))  # a retry needs no space
            assert r.status == 200 and r.json()["position"] == 5, r
            failures = [l for l in server.request("GET", "/metrics").body.splitlines() if l.startswith("gridloop_storage_failures_total")]
            assert failures == ["gridloop_storage_failures_total 3"], failures

            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))  # space returns
            resume(server, head)
            code = server.kill(signal.SIGTERM)
            assert code == 0, f"serve exited {code}"
            verified = check_log(binary, work.db, head)
        finally:
            if server.serving():
                server.kill()
        print(f"no space: 3 appends answered 503 ({detail!r}); reads served; after the limit was raised the same "
              f"requests were appended at {head + 1}..{head + 4}; {verified}")


def read_only(binary):
    with h.Workdir("readonly") as work:
        builder = h.Server(binary, work.db, work.tokens)
        builder.start()
        head = setup(builder)
        assert builder.kill(signal.SIGTERM) == 0
        kwargs = {}
        if os.geteuid() == 0:  # root writes whatever the mode says: the server runs as nobody
            for name in os.listdir(work.path):
                os.chown(os.path.join(work.path, name), 65534, 65534)
            os.chown(work.path, 65534, 65534)
            kwargs = dict(user=65534, group=65534, extra_groups=[])
        os.chmod(work.db, 0o444)
        server = h.Server(binary, work.db, work.tokens, **kwargs)
        server.start()
        try:
            detail = ""
            for body in (SINGLE, BATCH):
                detail = problem(server.request("POST", "/v1/events", body), 503, "the event log is read-only", work.db)
            reads_work(server, head, "before", "x1")
            os.chmod(work.db, 0o644)  # writable again: the next append reopens it
            resume(server, head)
            # Read-only again, through a restart: the -wal and -shm the read-only server creates
            # inherit the database's mode; once the database is writable, the next start fixes them.
            assert server.kill(signal.SIGTERM) == 0
            os.chmod(work.db, 0o444)
            server.start()
            problem(server.request("POST", "/v1/events", h.report("y", "y")), 503, "the event log is read-only")
            assert server.kill(signal.SIGTERM) == 0
            os.chmod(work.db, 0o644)
            server.start()
            r = server.request("POST", "/v1/events", h.report("y", "y"))
            assert r is not None and r.status == 201 and r.json()["position"] == head + 5, f"after a restart: {r}"
            code = server.kill(signal.SIGTERM)
            assert code == 0, f"serve exited {code}"
            verified = check_log(binary, work.db, head)
        finally:
            if server.serving():
                server.kill()
        print(f"read-only file: started and served reads; writes answered 503 ({detail!r}); "
              f"after chmod u+w the same requests were appended without a restart, and after a restart too; {verified}")


def damaged(binary):
    with h.Workdir("damaged") as work:
        rng = random.Random(7)
        good = os.path.join(work.path, "good.db")
        r = h.cli(binary, "generate", "--db", good, "--events", "3000")
        assert r.returncode == 0, r.stderr
        data = open(good, "rb").read()
        assert not os.path.exists(good + "-wal") or os.path.getsize(good + "-wal") == 0
        page = 4096
        middle = len(data) // page // 2 * page
        files = {  # name: (bytes, what the message must say, whether export can tell)
            "random-bytes": (rng.randbytes(8192), "is not a gridloop database", True),
            "truncated-to-half": (data[:len(data) // 2], "is damaged", True),
            "truncated-in-the-header": (data[:50], "is damaged", True),
            "pages-overwritten": (data[:middle] + rng.randbytes(3 * page) + data[middle + 3 * page:], None, False),
        }
        for name, (content, words, export_tells) in files.items():
            path = os.path.join(work.path, name + ".db")
            with open(path, "wb") as f:
                f.write(content)
            commands = [["serve", "--db", path, "--listen", "127.0.0.1:0", "--tokens", work.tokens, "--quiet"],
                        ["verify", "--db", path]] + ([["export", "--db", path]] if export_tells else [])
            for cmd in commands:
                r = h.cli(binary, *cmd, timeout=30)
                said = (r.stdout + r.stderr).strip()
                if cmd[0] == "serve":
                    refusal = said
                assert r.returncode == 1, f"{name}: gridloop {cmd[0]} exited {r.returncode}: {said}"
                assert path in said or cmd[0] == "verify" and "BROKEN at position" in said, f"{name}: {said}"
                if words and not (cmd[0] == "verify" and "BROKEN" in said):
                    assert words in said, f"{name}: gridloop {cmd[0]}: {said}"
            assert open(path, "rb").read() == content, f"{name} was changed"
            print(f"damaged file ({name}): refused with exit 1 by {', '.join(c[0] for c in commands)}; serve said: {refusal[:200]}")


def main():
    binary = sys.argv[1]
    no_space(binary)
    read_only(binary)
    damaged(binary)


if __name__ == "__main__":
    main()
