#!/usr/bin/env python3
"""The dashboard in a real browser: `gridloop demo` on loopback, Debian's headless chromium driven
over the DevTools protocol (a minimal WebSocket client from the standard library).

Checks that the KPI tiles show what /v1/grids/{id}/stats says, that a dashboard token's page holds
no member names, that a posted event changes the page without a reload, and saves screenshots
(desktop and phone width) to BINARY_DIR/dashboard.png and dashboard-phone.png.

usage: dashboard_browser_test.py GRIDLOOP BINARY_DIR    exit 77 (skipped) without chromium
"""
import base64
import datetime, decimal, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.error, urllib.request

SKIP = 77


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, token=None, body=None, refused_ok=False):
    """The JSON answer; with refused_ok, a 4xx answer's problem+json (with its status) instead of raising."""
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        if refused_ok and 400 <= e.code < 500:
            return json.loads(e.read())
        raise


def wait_for(what, fn, timeout=20.0, step=0.1):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Cdp:
    """Just enough WebSocket (RFC 6455) for the DevTools protocol: masked text frames out, whole messages in."""

    def __init__(self, ws_url):
        hostport, path = ws_url[len("ws://"):].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))
        self.next_id = 0

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("devtools connection closed")
            buf += chunk
        return buf

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                                else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _message(self):
        out = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x8:
                raise RuntimeError("devtools closed the websocket")
            if b0 & 0x0F in (0x9, 0xA):  # ping/pong: not sent by chromium to clients in practice
                continue
            out += payload
            if b0 & 0x80:
                return json.loads(out)

    def call(self, method, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = self._message()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")


def shown(key, value):
    """What the page shows for a stats field: rates as percentages with one decimal (JS toFixed rounds half up)."""
    if value is None:
        return "—"
    if key.endswith("_rate"):
        d = decimal.Decimal(value * 100).quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)
        return f"{d}%"
    return str(value)


def main():
    gridloop, binary_dir = sys.argv[1], sys.argv[2]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: chromium is not installed (scripts/setup.sh installs the Debian package `chromium`)")
        return SKIP
    work = tempfile.mkdtemp(prefix="gridloop-dash-")
    procs = []
    try:
        port, devtools = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        db = os.path.join(work, "demo.db")
        demo_log = open(os.path.join(work, "demo.log"), "w")
        procs.append(subprocess.Popen([gridloop, "demo", "--db", db, "--listen", f"127.0.0.1:{port}"], stdout=demo_log,
                                      stderr=subprocess.STDOUT))
        wait_for("gridloop demo", lambda: http("GET", base + "/healthz")["status"] == "ok", timeout=60)
        tokens = {t["role"]: t["token"] for t in json.load(open(db + ".tokens.json"))}
        dash, admin = tokens["dashboard"], tokens["admin"]
        root = http("GET", base + "/v1/grids", dash)["grids"][0]["grid_id"]

        # Names the page must never show to a dashboard token: members as the admin sees them.
        names = {m["name"] for m in http("GET", base + "/v1/members?limit=100", admin)["items"] if m.get("name")}
        month = time.strftime("%Y-%m")
        names |= {e["name"] for e in http("GET", base + f"/v1/points/leaderboard?month={month}", admin)["entries"] if e.get("name")}
        assert len(names) >= 5, f"the sample town should have named members, got {names}"

        procs.append(subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                       f"--user-data-dir={os.path.join(work, 'chromium')}", f"--remote-debugging-port={devtools}",
                                       "--remote-allow-origins=*", "--window-size=1280,1900", "about:blank"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        pages = wait_for("chromium's devtools", lambda: [t for t in json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{devtools}/json/list", timeout=5).read()) if t.get("type") == "page"], timeout=30)
        cdp = Cdp(pages[0]["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=f"{base}/?token={dash}&lang=zh")
        state = lambda: json.loads(cdp.js("document.getElementById('state').textContent") or "{}")
        wait_for("the KPI tiles and the live indicator",
                 lambda: state().get("kpi") and cdp.js("document.getElementById('live').dataset.live") == "1", timeout=30)
        cdp.js("window.__not_reloaded = true")

        tiles_js = "Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map(e => [e.dataset.kpi, e.querySelector('b').textContent]))"

        def tiles_match_api():
            tiles = cdp.js(tiles_js)
            stats = http("GET", f"{base}/v1/grids/{root}/stats", dash)
            want = {k: shown(k, stats[k]) for k in tiles}
            return (tiles, stats) if tiles == want and len(tiles) >= 10 else None

        tiles, stats = wait_for("the tiles to equal /v1/grids/{root}/stats", tiles_match_api, timeout=15, step=0.5)
        print(f"KPI tiles equal the API ({root}): " + ", ".join(f"{k}={v}" for k, v in tiles.items()))

        html = cdp.js("document.documentElement.outerHTML")
        leaked = sorted(n for n in names if n in html)
        assert not leaked, f"the dashboard token's page shows member names: {leaked}"
        print(f"no member names on the dashboard page ({len(names)} names checked, {len(html)} bytes of DOM)")
        assert cdp.js("document.querySelectorAll('#chart svg polyline').length") == 3, "the daily chart has three series"
        assert cdp.js("document.querySelectorAll('#tree button[data-grid]').length") > 5, "the grid tree is shown"

        # Live: a report posted elsewhere shows up without a reload.
        micro = next(g["grid_id"] for g in http("GET", base + f"/v1/cases?limit=1", admin)["cases"])
        before = int(tiles["reported"])
        http("POST", base + "/v1/events", admin, {"type": "IssueReported", "data": {
            "case_id": "c-browser-1", "category": "garbage", "description": "browser test", "source": "patrol", "grid_id": micro}})
        wait_for("the page to show the new report", lambda: cdp.js(tiles_js)["reported"] == str(before + 1), timeout=15)
        assert cdp.js("window.__not_reloaded === true"), "the page reloaded"
        print(f"live: reported {before} → {before + 1} without a reload (position {state()['position']})")

        # The period counts from the town's today (not the browser's clock): last 30 days.
        grids = http("GET", base + "/v1/grids", dash)
        today, this_month = grids["today"], grids["month"]
        pick = lambda sel, value: cdp.js(f"(s => {{ s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})"
                                         f"(document.getElementById('{sel}'))")
        pick("period", "d30")
        first = (datetime.date.fromisoformat(today) - datetime.timedelta(days=29)).isoformat()

        def shows_last_30_days():
            st, want = state(), http("GET", f"{base}/v1/grids/{root}/stats?from={first}", dash)
            return st if st.get("period") == "d30" and cdp.js(tiles_js) == {k: shown(k, want[k]) for k in tiles} else None

        d30 = wait_for("the tiles to show the last 30 days", shows_last_30_days, timeout=15, step=0.5)
        assert d30["today"] == today, f"the page's today {d30['today']} is not the town's {today}"
        print(f"last 30 days from the town's today {today}: reported {cdp.js(tiles_js)['reported']} (from={first})")

        # The month picker drives the stars and the leaderboard.
        months = cdp.js("[...document.getElementById('month').options].map(o => o.value)")
        assert len(months) == 12 and months[0] == this_month, f"month picker: {months}"
        past = months[6]
        pick("month", past)
        want_stars = http("GET", f"{base}/v1/grids/{root}/stars?period={past}", dash)["micro_grids"]
        want_scores = ["—" if m["score"] is None else "%g" % m["score"] for m in want_stars]  # as JavaScript prints numbers
        scores_js = "[...document.querySelectorAll('#stars tr td.n')].map(td => td.textContent)"
        wait_for(f"the stars of {past}", lambda: state().get("month") == past and cdp.js(scores_js) == want_scores, timeout=15, step=0.5)
        assert past in cdp.js("document.getElementById('h-board').textContent")
        print(f"month picker: stars of {past} equal the API ({len(want_scores)} micro-grids)")

        # Picking a micro-grid narrows the department queues to cases reported in its subtree: a case
        # reported in `micro` is dispatched to a department serving it.
        http("POST", base + "/v1/events", admin, {"type": "IssueReported", "data": {
            "case_id": "c-browser-2", "category": "road", "description": "browser test", "source": "patrol", "grid_id": micro}})
        for d in grids["departments"]:
            dispatched = http("POST", base + "/v1/events", admin, {"type": "IssueEscalated", "data": {
                "case_id": "c-browser-2", "to_rung": "department", "dept_id": d["dept_id"], "reason": "browser test"}}, refused_ok=True)
            if "status" not in dispatched:  # not a problem+json: appended
                dept, name = d["dept_id"], d["name"]
                break
        else:
            raise AssertionError("no department serves " + micro)
        # … and one from another micro-grid the same department serves, which must not be shown then.
        def micros(nodes):
            for g in nodes:
                yield from ([g["grid_id"]] if g["level"] == "micro" else []) + list(micros(g["children"]))
        for i, other in enumerate(g for g in micros(grids["grids"]) if g != micro):
            case_id = f"c-browser-other-{i}"
            http("POST", base + "/v1/events", admin, {"type": "IssueReported", "data": {
                "case_id": case_id, "category": "road", "description": "browser test", "source": "patrol", "grid_id": other}})
            if "status" not in http("POST", base + "/v1/events", admin, {"type": "IssueEscalated", "data": {
                    "case_id": case_id, "to_rung": "department", "dept_id": dept, "reason": "browser test"}}, refused_ok=True):
                break
        total = len(http("GET", f"{base}/v1/departments/{dept}/queue", admin)["cases"])
        in_micro = len(http("GET", f"{base}/v1/departments/{dept}/queue?grid={micro}", dash)["cases"])
        assert 1 <= in_micro < total, (in_micro, total)
        cdp.js(f"document.querySelector('#tree button[data-grid=\"{micro}\"]').click()")
        row_js = f"[...document.querySelectorAll('#depts tr')].filter(r => r.cells[0].textContent === {json.dumps(name)}).map(r => r.cells[1].textContent)"
        wait_for(f"{name}'s queue narrowed to {micro}", lambda: state().get("grid") == micro and cdp.js(row_js) == [str(in_micro)], timeout=15, step=0.5)
        print(f"department queue of {dept}: {total} open in all, {in_micro} from {micro} shown when {micro} is picked")

        # Back to the town, all time, this month, for the screenshots.
        pick("period", "all")
        pick("month", this_month)
        cdp.js(f"document.querySelector('#tree button[data-grid=\"{root}\"]').click()")
        wait_for("the town view again", lambda: (lambda st: st.get("grid") == root and st.get("period") == "all" and st.get("month") == this_month)(state()),
                 timeout=15, step=0.5)

        out = os.path.join(binary_dir, "dashboard.png")
        cdp.call("Emulation.setDeviceMetricsOverride", width=1280, height=1900, deviceScaleFactor=1, mobile=False)
        with open(out, "wb") as f:
            f.write(base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"]))
        phone = os.path.join(binary_dir, "dashboard-phone.png")
        cdp.call("Emulation.setDeviceMetricsOverride", width=390, height=1600, deviceScaleFactor=2, mobile=True)
        time.sleep(0.3)
        width = cdp.js("document.documentElement.scrollWidth")
        assert width <= 400, f"the page is {width}px wide at phone width"
        with open(phone, "wb") as f:
            f.write(base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"]))
        print(f"screenshots: {out}, {phone}")
        print("PASS")
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
