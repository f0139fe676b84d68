#!/usr/bin/env python3
"""Crash consistency under load: the real `gridloop serve` on one SQLite file, concurrent posting
clients (single events, atomic batches, batches that must be refused whole, resends of acknowledged
requests as after a lost response, retries of requests whose answer never came), SIGKILL at random
moments, a restart each time. After every kill the log must hold every acknowledged event exactly
once at its acknowledged position with its acknowledged hash, every request whole or not at all,
gapless positions, nothing nobody sent, and `gridloop verify` must pass.

usage: crash_test.py GRIDLOOP_BINARY [--kills N] [--seed S] [--max-seconds T]
The seed (also GRIDLOOP_SEED) fixes the request shapes and the kill delays; thread timing is the
machine's, so a rerun with the same seed repeats the plan, not the exact interleaving."""

import argparse
import os
import random
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CLIENTS = 4


class Request:
    """One POST body and what became of it: new (sent, unanswered), acked, refused."""

    def __init__(self, kind, body, ids):
        self.kind, self.body, self.ids = kind, body, ids
        self.state = "new"
        self.ack = None  # [(event_id, position, hash)] of the 2xx answer
        self.doubted = False  # an answer was lost at least once


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.errors = []
        self.figures = dict(acked_requests=0, acked_events=0, refused=0, lost=0, lost_committed=0, lost_absent=0, lost_refused=0,
                            resends=0, checks=0, requests_checked=0)

    def add(self, req):
        with self.lock:
            self.requests.append(req)

    def error(self, message):
        with self.lock:
            self.errors.append(message)

    def count(self, key, n=1):
        with self.lock:
            self.figures[key] += n

    def snapshot(self):
        with self.lock:
            return [(r, r.state, r.ack) for r in self.requests]


def acked_envelopes(req, response):
    envs = response.json()["events"] if "events" in req.body else [response.json()]
    got = [(e["event_id"], e["position"], e["hash"]) for e in envs]
    if [g[0] for g in got] != req.ids:
        raise AssertionError(f"answer for {req.ids[:3]}... names other events: {[g[0] for g in got][:3]}...")
    return got


def make_request(rng, client, n):
    """A single report, a batch (sometimes large, sometimes with a second event on a new case's
    stream), or a batch that must be refused whole (its last event reports a case that exists)."""
    stem = f"c{client}-{n}"
    roll = rng.random()
    if roll < 0.55:
        e = h.report("k" + stem, "e" + stem)
        return Request("single", e, [e["event_id"]])
    size = rng.randint(2, 6) if rng.random() < 0.9 else rng.randint(30, 120)
    events = [h.report(f"k{stem}-{i}", f"e{stem}-{i}") for i in range(size)]
    if roll < 0.9:
        if rng.random() < 0.5:
            events.append(h.event("IssueDiscussed", {"case_id": f"k{stem}-0", "participants": ["p-1"], "decision": "go"},
                                  f"e{stem}-d"))
        return Request("batch", {"events": events}, [e["event_id"] for e in events])
    events.append(h.report("anchor", f"e{stem}-dup"))
    return Request("refused", {"events": events}, [e["event_id"] for e in events])


def client(cid, seed, server, ledger, stop, draining):
    rng = random.Random(seed * 1000 + cid)
    n = 0
    pending = None  # the request being sent; one whose answer never came is sent again, same body
    mine = []  # acknowledged requests, to resend as if their answers had been lost
    while not stop.is_set():
        resend = False
        if pending is not None:
            req = pending
        elif draining.is_set():
            return
        elif mine and rng.random() < 0.05:
            req, resend = rng.choice(mine), True
        else:
            n += 1
            req = pending = make_request(rng, cid, n)
            ledger.add(req)  # before it is sent: whatever reaches the log is known to the checks
        if server.port is None:  # down between a kill and the restart: nothing is sent
            time.sleep(0.01)
            continue
        r = server.request("POST", "/v1/events", req.body, timeout=15)
        if r is None or r.status == 503:  # killed mid-request, or "try later"
            if not resend and not req.doubted:
                ledger.count("lost")
                req.doubted = True
            time.sleep(0.01)
            continue
        try:
            if resend:
                if r.status != 200 or acked_envelopes(req, r) != req.ack:
                    raise AssertionError(f"resent {req.ids[0]}: {r} differs from the first answer {req.ack[:2]}")
                ledger.count("resends")
            elif req.kind == "refused":
                if r.status != 409 or not r.content_type.startswith("application/problem+json"):
                    raise AssertionError(f"a batch ending with a duplicate report answered {r}")
                with ledger.lock:
                    req.state = "refused"
                    ledger.figures["refused"] += 1
                    ledger.figures["lost_refused"] += req.doubted
            else:
                if r.status not in (200, 201) or (r.status == 200 and not req.doubted):
                    raise AssertionError(f"{req.kind} {req.ids[0]} answered {r}")
                ack = acked_envelopes(req, r)
                with ledger.lock:
                    req.ack, req.state = ack, "acked"
                    ledger.figures["acked_requests"] += 1
                    ledger.figures["acked_events"] += len(ack)
                    if req.doubted:  # 200: it had been committed before the crash; 201: it had not
                        ledger.figures["lost_committed" if r.status == 200 else "lost_absent"] += 1
                mine.append(req)
        except (AssertionError, ValueError, KeyError) as e:
            ledger.error(f"client {cid}: {e}")
        if not resend:
            pending = None


def check(binary, db, ledger, setup_ids, settled=False):
    """The log against what the clients know, with the server down."""
    envs = h.export(binary, db)
    h.check_gapless(envs)
    verified = h.verify(binary, db)
    by_id = {e["event_id"]: e for e in envs}
    known = set(setup_ids)
    checks = requests = 0
    for req, state, ack in ledger.snapshot():
        known.update(req.ids)
        present = [i in by_id for i in req.ids]
        if any(present) and not all(present):
            raise AssertionError(f"request {req.ids[0]} ({req.kind}, {state}) is half in the log: "
                                 f"{sum(present)} of {len(present)} events")
        if all(present):
            positions = [by_id[i]["position"] for i in req.ids]
            if positions != list(range(positions[0], positions[0] + len(positions))):
                raise AssertionError(f"request {req.ids[0]} is not contiguous: {positions[:5]}...")
            if state == "refused":
                raise AssertionError(f"refused request {req.ids[0]} is in the log")
        if state == "acked":
            requests += 1
            for event_id, position, hash_ in ack:
                e = by_id.get(event_id)
                if e is None:
                    raise AssertionError(f"acknowledged {event_id} (position {position}) is not in the log")
                if e["position"] != position or e["hash"] != hash_:
                    raise AssertionError(f"acknowledged {event_id} was at {position}, the log has it at {e['position']}")
                checks += 1
        elif settled and state != "refused":
            raise AssertionError(f"request {req.ids[0]} was never answered")
    unknown = [e["event_id"] for e in envs if e["event_id"] not in known]
    if unknown:
        raise AssertionError(f"{len(unknown)} events in the log that no client sent, e.g. {unknown[:3]}")
    ledger.count("checks", checks)
    ledger.count("requests_checked", requests)
    return len(envs), verified


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--kills", type=int, default=int(os.environ.get("GRIDLOOP_CRASH_KILLS", 25)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("GRIDLOOP_SEED") or random.SystemRandom().randrange(2**31)))
    ap.add_argument("--max-seconds", type=float, default=120)
    args = ap.parse_args()
    seed = args.seed
    print(f"crash test: seed {seed} (rerun: GRIDLOOP_SEED={seed})", flush=True)
    rng = random.Random(seed)
    started = time.monotonic()
    with h.Workdir("crash") as work:
        server = h.Server(args.binary, work.db, work.tokens)
        ledger = Ledger()
        stop, draining = threading.Event(), threading.Event()
        threads = []
        kills = 0
        try:
            server.start()
            org = dict(h.ORG)
            org["events"] = [dict(e, event_id=f"setup-{i}") for i, e in enumerate(h.ORG["events"])]
            org["events"].append(h.report("anchor", "setup-anchor"))
            r = server.request("POST", "/v1/events", org)
            assert r is not None and r.status == 201, f"setting up: {r}"
            setup_ids = [e["event_id"] for e in org["events"]]
            threads = [threading.Thread(target=client, args=(c, seed, server, ledger, stop, draining), daemon=True)
                       for c in range(CLIENTS)]
            for t in threads:
                t.start()
            head = 0
            while kills < args.kills and time.monotonic() - started < args.max_seconds:
                # A random moment: at once, or after up to a second of load.
                time.sleep(0 if rng.random() < 0.1 else rng.uniform(0.05, 1.0))
                code = server.kill()
                assert code == -9, f"serve exited with {code} before it was killed: {server.output[-5:]}"
                kills += 1
                head, _ = check(args.binary, work.db, ledger, setup_ids)
                if ledger.errors:
                    raise AssertionError(ledger.errors[0])
                server.start()
            # Settle: no new requests; every unanswered one retried until answered; then a clean stop.
            draining.set()
            for t in threads:
                t.join(60)
            assert not any(t.is_alive() for t in threads), "clients did not settle their unanswered requests"
            code = server.kill(signal.SIGTERM)
            assert code == 0, f"serve exited {code} on SIGTERM"
            head, verified = check(args.binary, work.db, ledger, setup_ids, settled=True)
            if ledger.errors:
                raise AssertionError(ledger.errors[0])
        except BaseException:
            stop.set()
            if server.serving():
                server.kill()
            print(f"crash test FAILED after {kills} kills; seed {seed} (rerun: GRIDLOOP_SEED={seed})", file=sys.stderr)
            print("server output:\n  " + "\n  ".join(server.output[-20:]), file=sys.stderr)
            raise
        if kills < min(15, args.kills):
            raise AssertionError(f"only {kills} kills fit in {args.max_seconds} s (the machine is too slow?)")
        f = ledger.figures
        print(f"crash test: seed {seed}: {kills} SIGKILLs survived in {time.monotonic() - started:.0f} s; "
              f"{f['acked_requests']} requests acknowledged ({f['acked_events']} events), {f['refused']} batches refused whole; "
              f"{f['lost']} answers lost to a kill, settled by retry: {f['lost_committed']} had been committed (200), "
              f"{f['lost_absent']} had not (201), {f['lost_refused']} were batches refused whole (409); {f['resends']} resends of acknowledged requests answered with the originals; "
              f"{f['checks']} acknowledged-event checks over {kills + 1} restarts; head position {head}; {verified}")


if __name__ == "__main__":
    main()
