#!/usr/bin/env python3
"""Concurrency over the wire, against the real `gridloop serve`:
- writers racing on one case with expected_version: each round they all post at once for the same
  version; exactly one gets 201, the others 409 (problem+json), and the stream has no gap;
- writers racing to create the same case with expected_version 0: exactly one wins;
- other writers append to other streams meanwhile;
- Server-Sent Events subscribers (from the start, resuming with Last-Event-ID, and joining while
  the writers run) each see every event once, in order, byte for byte as the log holds it.

usage: concurrency_test.py GRIDLOOP_BINARY [--writers N] [--rounds R]"""

import argparse
import json
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def discuss(case_id, writer, round_, expected_version):
    return h.event("IssueDiscussed", {"case_id": case_id, "participants": [f"p-{writer}"], "decision": f"round {round_}"},
                   f"d-{round_}-{writer}", expected_version)


def race(server, writers, rounds, errors):
    """Each round every writer posts for the same expected version at once. Returns per round the
    list of (writer, status, body)."""
    barrier = threading.Barrier(writers)
    outcomes = [[] for _ in range(rounds + 1)]
    lock = threading.Lock()

    def writer(w):
        try:
            for r in range(rounds + 1):
                # Round 0 creates the case (expected_version 0); round r then expects version r.
                body = h.report("shared", f"create-{w}") if r == 0 else discuss("shared", w, r, r)
                if r == 0:
                    body["expected_version"] = 0
                barrier.wait(30)
                resp = server.request("POST", "/v1/events", body, timeout=30)
                with lock:
                    outcomes[r].append((w, resp))
        except Exception as e:  # noqa: BLE001 - any failure is reported with the writer
            errors.append(f"writer {w}: {e!r}")
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def background(b, server, stop, errors, counter):
    """Reports and small batches on other streams while the race runs."""
    n = 0
    while not stop.is_set():
        n += 1
        stem = f"bg{b}-{n}"
        body = h.report(stem, stem) if n % 3 else {"events": [h.report(f"{stem}-{i}", f"{stem}-{i}") for i in range(4)]}
        r = server.request("POST", "/v1/events", body)
        if r is None or r.status != 201:
            errors.append(f"background post {n}: {r}")
            return
        counter[0] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=150)
    args = ap.parse_args()
    started = time.monotonic()
    errors = []
    with h.Workdir("concurrency") as work:
        server = h.Server(args.binary, work.db, work.tokens)
        server.start()
        try:
            r = server.request("POST", "/v1/events", h.ORG)
            assert r is not None and r.status == 201, f"setting up: {r}"
            # Subscribers from the start, and one resuming after position 2 as a reconnecting EventSource does.
            subscribers = [(h.Sse(server.port, after=0), 0), (h.Sse(server.port, after=0), 0),
                           (h.Sse(server.port, last_event_id=2), 2)]
            stop, counter = threading.Event(), [0]
            bg = [threading.Thread(target=background, args=(b, server, stop, errors, counter)) for b in range(2)]
            for t in bg:
                t.start()
            joined = []

            def join_late():  # subscribers that join while the writers run: catch-up, then live
                time.sleep(0.3)
                for after in (0, None):
                    head = server.request("GET", "/v1/audit/head").json()["position"]
                    joined.append((h.Sse(server.port, after=head if after is None else 0), head if after is None else 0))
                    time.sleep(0.3)

            late = threading.Thread(target=join_late)
            late.start()
            outcomes = race(server, args.writers, args.rounds, errors)
            late.join()
            stop.set()
            for t in bg:
                t.join(30)
            subscribers += joined
            if errors:
                raise AssertionError(errors[0])

            # Exactly one winner per version; the others 409 naming the version; nothing else.
            conflicts = 0
            for rnd, results in enumerate(outcomes):
                assert len(results) == args.writers, f"round {rnd}: {len(results)} answers"
                wins = [(w, resp) for w, resp in results if resp is not None and resp.status == 201]
                assert len(wins) == 1, f"round {rnd}: {len(wins)} writers won: {results}"
                assert wins[0][1].json()["version"] == rnd + 1, f"round {rnd}: the winner got {wins[0][1]}"
                for w, resp in results:
                    if resp is wins[0][1]:
                        continue
                    assert resp is not None and resp.status == 409, f"round {rnd}, writer {w}: {resp}"
                    assert resp.content_type.startswith("application/problem+json"), resp.content_type
                    detail = resp.json()["detail"]
                    assert "version" in detail or "exists" in detail, f"round {rnd}: 409 says {detail!r}"
                    conflicts += 1

            # The stream: versions 1..rounds+1, no gap, each the winner's event.
            stream = server.request("GET", "/v1/streams/case-shared").json()
            versions = [e["version"] for e in stream["events"]]
            assert versions == list(range(1, args.rounds + 2)), f"stream versions {versions}"
            in_stream = [e["event_id"] for e in stream["events"]]
            won = [next(resp for _, resp in results if resp.status == 201).json()["event_id"] for results in outcomes]
            assert in_stream == won, "the stream does not hold the winners, in order"

            # Every subscriber: every event after its start, once, in order, as the log holds it.
            head = server.request("GET", "/v1/audit/head").json()["position"]
            log = {e["position"]: e for e in h.export(args.binary, work.db)}
            assert len(log) == head
            seen = 0
            for sse, after in subscribers:
                assert sse.wait_for(head, 30), f"a subscriber after {after} stopped at {sse.last_id()} of {head} ({sse.error})"
                positions = [p for p, _ in sse.events]
                assert positions == list(range(after + 1, head + 1)), \
                    f"subscriber after {after}: {len(positions)} events, first {positions[:3]}, last {positions[-3:]}"
                for p, data in sse.events:
                    assert json.loads(data) == log[p], f"subscriber after {after}: position {p} differs from the log"
                seen += len(positions)
                sse.close()
            verified = h.verify(args.binary, work.db)
            code = server.kill(signal.SIGTERM)
            assert code == 0, f"serve exited {code} on SIGTERM"
        except BaseException:
            if server.serving():
                server.kill()
            print("server output:\n  " + "\n  ".join(server.output[-20:]), file=sys.stderr)
            raise
    print(f"concurrency test: {args.writers} writers x {args.rounds + 1} versions of one case: one 201 and "
          f"{args.writers - 1} 409s each ({conflicts} conflicts), stream gapless; {counter[0]} other posts meanwhile; "
          f"{len(subscribers)} SSE subscribers received {seen} events, each once and in order; head {head}; {verified}; "
          f"{time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
