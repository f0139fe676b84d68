#!/usr/bin/env python3
"""Recomputes gridloop's hash chain from an export, independently of gridloop's code.

    gridloop export --db town.db | python3 scripts/verify_chain.py

hash = sha256(prev_hash bytes || canonical JSON of the envelope without prev_hash and hash), where
canonical JSON has its keys sorted, no insignificant space, UTF-8; prev_hash of position 1 is 32
zero bytes. Exit 0 when the chain holds, 1 naming the first bad position.
"""
import hashlib
import json
import sys


def main() -> int:
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    prev, position = "0" * 64, 0
    for line in source:
        if not line.strip():
            continue
        env = json.loads(line)
        position += 1
        body = {k: v for k, v in env.items() if k not in ("prev_hash", "hash")}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        digest = hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest()
        if env["position"] != position or env["prev_hash"] != prev or env["hash"] != digest:
            print(f"BROKEN at position {env['position']}", file=sys.stderr)
            return 1
        prev = env["hash"]
    print(f"ok: {position} events, head {prev}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
