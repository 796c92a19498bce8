"""The dashboard in a real headless Chromium against a real pulsegate.

Plot data is read from the page the way Plotly keeps it: document.getElementById(id).data.
"""

import json
import statistics
import time
from urllib.parse import parse_qs, urlparse

from pulsecheck import Relay, WebSocket

WINDOW = "5m"


def wait_for(driver, script, *args, timeout=15, what="condition"):
    """Polls a JS expression (`return …`) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; status: {status(driver)}; errors: {errors(driver)!r}")
        time.sleep(0.1)


def traces(driver, metric):
    return driver.execute_script(
        """const gd = document.getElementById('chart-' + arguments[0]);
           return gd && gd.data ? gd.data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)})) : null;""",
        metric)


def status(driver):
    return driver.execute_script("const s = document.getElementById('status'); return s ? s.dataset.state + ': ' + s.textContent : null")


def errors(driver):
    return driver.execute_script("return document.getElementById('errors').textContent")


def visible_error(driver, text, timeout=15):
    element = driver.find_element("id", "errors")
    wait_for(driver, "return document.getElementById('errors').textContent.includes(arguments[0])", text,
             timeout=timeout, what=f"an error saying {text!r}")
    assert element.is_displayed(), "the error box is not visible"
    return element.text


def wait_live(driver, timeout=15):
    wait_for(driver, "return document.getElementById('status').dataset.state === 'live'", timeout=timeout, what="status live")


def assert_increasing(trace):
    xs = trace["x"]
    repeated = sorted({x for x in xs if xs.count(x) > 1})
    assert not repeated, f"{trace['name']}: timestamps drawn twice: {repeated[:5]}"
    assert xs == sorted(xs), f"{trace['name']}: timestamps out of order"


def close(a, b):
    return a == b or (a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0))


def test_backfill_is_drawn_before_live_points_and_a_reload_shows_the_same(page, server_factory):
    server = server_factory("backfill", "--collect-interval", "0").start()
    metric = "browsercheck_value"
    now_s = int(time.time())
    seeded = [((now_s - 90 + i) * 1000, i * 1.5) for i in range(40)]  # whole seconds: one per 1 s bucket
    server.ingest([{"metric": metric, "labels": {"probe": "a"}, "ts": ts, "value": v} for ts, v in seeded])

    page.get(f"{server.base}/?metric={metric}&window={WINDOW}")
    wait_live(page)
    first = wait_for(page, "const gd = document.getElementById('chart-' + arguments[0]); return gd && gd.data && gd.data.length && gd.data[0].x.length >= 40 && gd.data",
                     metric, what="the backfilled points")
    assert len(first) == 1
    assert list(zip(first[0]["x"], first[0]["y"])) == seeded, "the history points are not drawn as stored"
    print(f"\n  backfill: {len(seeded)} stored points drawn before any live point")

    # Now live samples; each one closes the previous 1 s bucket.
    for k in range(10):
        server.ingest([{"metric": metric, "labels": {"probe": "a"}, "ts": int(time.time() * 1000), "value": 100.0 + k}])
        time.sleep(0.25)
    live = wait_for(page, "const t = document.getElementById('chart-' + arguments[0]).data[0]; return t.x.length >= 42 && t",
                    metric, what="live points")
    assert list(zip(live["x"][:40], live["y"][:40])) == seeded, "live points were not appended after the backfill"
    assert all(x > seeded[-1][0] for x in live["x"][40:]) and all(100 <= y <= 109 for y in live["y"][40:])
    assert_increasing(live)
    print(f"  live: {len(live['x']) - 40} live buckets appended after them")

    # A reload draws the very points that streaming drew.
    wait_for(page, "return document.getElementById('chart-' + arguments[0]).data[0].x.length >= 43", metric,
             timeout=30, what="the last live bucket (closed when quiet, 5 s after it)")
    before = traces(page, metric)[0]
    page.refresh()
    wait_live(page)
    after = wait_for(page, "const gd = document.getElementById('chart-' + arguments[0]); return gd && gd.data && gd.data.length && gd.data[0].x.length >= arguments[1] && gd.data[0]",
                     metric, len(before["x"]), what="the reloaded points")
    reloaded = dict(zip(after["x"], after["y"]))
    differing = [(x, y, reloaded.get(x)) for x, y in zip(before["x"], before["y"]) if not close(y, reloaded.get(x))]
    assert not differing, f"after a reload these points differ (ts, streamed, reloaded): {differing[:5]}"
    print(f"  reload: the same {len(before['x'])} points")


def test_the_live_stream_is_compressed_end_to_end(page, server_factory):
    """Chromium offers permessage-deflate; the server accepts it, and the compressed frames
    are what the page draws (DevTools reports frames after it has inflated them)."""
    server = server_factory("compressed", "--collect-interval", "0").start()
    metric = "browsercheck_compressed"
    page.get_log("performance")
    page.get(f"{server.base}/?metric={metric}&window={WINDOW}")
    wait_live(page)
    sent = [(int(time.time() * 1000) + i, float(i)) for i in range(5)]
    server.ingest([{"metric": metric, "labels": {"probe": "z"}, "ts": ts, "value": v} for ts, v in sent])
    wait_for(page, "const gd = document.getElementById('chart-' + arguments[0]); return gd && gd.data && gd.data.length",
             metric, what="the streamed samples drawn")
    events = [json.loads(entry["message"])["message"] for entry in page.get_log("performance")]
    handshakes = [e["params"]["response"] for e in events if e["method"] == "Network.webSocketHandshakeResponseReceived"]
    assert handshakes, "no WebSocket handshake seen"
    headers = {k.lower(): v for k, v in handshakes[-1]["headers"].items()}
    assert handshakes[-1]["status"] == 101
    assert headers.get("sec-websocket-extensions", "").startswith("permessage-deflate"), f"not negotiated: {headers}"
    frames = [e["params"]["response"]["payloadData"] for e in events if e["method"] == "Network.webSocketFrameReceived"]
    streamed = [json.loads(f) for f in frames if '"type":"samples"' in f]
    got = [(s["ts"], s["value"]) for frame in streamed for s in frame["samples"] if s["metric"] == metric]
    assert got == sent, f"the compressed frames carried {got}, not {sent}"
    print(f"\n  negotiated: {headers['sec-websocket-extensions']}; {len(got)} samples through compressed frames")


def backfills(page):
    return page.execute_script("return performance.getEntriesByName('pulsegate:backfill').map(e => e.detail)")


def wait_until_drawn_past(page, metric, ts):
    """Until a trace of the chart reaches ts: a comparison with history stops at what is drawn."""
    wait_for(page, "const gd = document.getElementById('chart-' + arguments[0]); return Math.max(...gd.data.map((t) => t.x[t.x.length - 1])) >= arguments[1]",
             metric, ts, timeout=20, what=f"{metric} drawn past {ts}")


def assert_page_equals_history(page, server, metric, now, step=1000, min_buckets=3):
    """Every finished bucket the server has, from the page's second bucket (the first may
    be cut by the window's start) to its last, is on the page with its value; no
    timestamp is drawn twice. (5 minutes at the test's width are 1 s buckets.) Returns the
    traces and how many buckets were compared, at least `min_buckets` in each series."""
    drawn = traces(page, metric)
    assert drawn, f"{metric}: nothing drawn"
    for trace in drawn:
        assert_increasing(trace)
    first_x = min(t["x"][1] for t in drawn if len(t["x"]) > 1)
    last_x = max(t["x"][-1] for t in drawn)
    answer = server.get_json(f"/history?metric={metric}&from={first_x}&to={now}&step={step}")
    assert answer["step"] == step
    by_name = {t["name"]: t for t in drawn}
    # Each loop below must have run: a history without series, or a range without
    # buckets, would compare nothing.
    assert answer["series"], f"{metric}: /history has no series from {first_x} to {now}"
    compared = 0
    for series in answer["series"]:
        name = ", ".join(f'{k}="{v}"' for k, v in sorted(series["labels"].items())) or metric
        trace = by_name[name]
        on_page = dict(zip(trace["x"], trace["y"]))
        expected = [(x, y) for x, y in series["points"] if first_x <= x <= min(last_x, now - 2 * step)]
        assert len(expected) >= min_buckets, f"{metric} {name}: only {len(expected)} stored buckets to compare"
        compared += len(expected)
        missing = [x for x, _ in expected if x not in on_page]
        assert not missing, f"{metric} {name}: {len(missing)} stored buckets not drawn, first {missing[:3]}"
        differing = [(x, y, on_page[x]) for x, y in expected if not close(y, on_page[x])]
        assert not differing, f"{metric} {name}: buckets differ from history (ts, stored, drawn): {differing[:3]}; backfills: {backfills(page)}"
    return drawn, compared


def page_is_dark(page):
    """(the page's background is dark, the CPU chart's tick labels are light)."""
    return tuple(page.execute_script("""
        const luminance = (css) => { const [r, g, b] = css.match(/\\d+/g).map(Number); return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
        const tick = document.querySelector('#chart-host_cpu_usage_ratio .xtick text');
        return [luminance(getComputedStyle(document.body).backgroundColor) < 0.5, luminance(getComputedStyle(tick).fill) > 0.5];"""))


def test_restart_reconnects_and_fills_the_gap_from_history(page, server_factory, artifacts):
    server = server_factory("restart", "--collect-interval", "200ms").start()
    page.get(f"{server.base}/?window={WINDOW}")
    wait_live(page)
    wait_for(page, "const gd = document.getElementById('chart-host_cpu_usage_ratio'); return gd && gd.data && gd.data.length && gd.data[0].x.length >= 4",
             timeout=20, what="a few CPU points")

    server.stop()
    wait_for(page, "return ['reconnecting', 'offline'].includes(document.getElementById('status').dataset.state)",
             what="status reconnecting")
    print(f"\n  stopped: page says {status(page)!r}")
    time.sleep(1)  # so that the old process's buckets end before the new one's begin
    # A ring of 20 samples (a quarter of a second here) cannot hold what the new process
    # collects before the page is back: that part must come from history.
    restarted_at = int(time.time() * 1000)
    server.start("--ring-samples", "20")
    ready_at = int(time.time() * 1000)  # the new process has collected since before this
    wait_live(page, timeout=30)
    backfills = wait_for(page, "const m = performance.getEntriesByName('pulsegate:backfill'); return m.length && m.map(e => e.detail)",
                         what="a backfill after the reset")
    assert any(b["type"] == "reset" and b["to"] >= restarted_at for b in backfills), backfills
    # Some live buckets after the reconnection, drawn on both charts (else the comparison
    # below would stop short of the restart).
    for metric in ["host_cpu_usage_ratio", "host_memory_used_bytes"]:
        wait_until_drawn_past(page, metric, restarted_at + 3000)
    now = int(time.time() * 1000)

    new_from = restarted_at // 1000 * 1000  # the first bucket the new process can have
    for metric in ["host_cpu_usage_ratio", "host_memory_used_bytes"]:
        drawn, compared = assert_page_equals_history(page, server, metric, now)
        # The new process's first seconds, collected before the page was back and beyond
        # its 20-sample ring, are drawn (from history), and from there on no second is
        # missing up to the last finished bucket.
        xs = sorted({x for t in drawn for x in t["x"] if x >= new_from})
        stored = server.get_json(f"/history?metric={metric}&from={new_from}&to={now}&step=1000")["series"]
        first_stored = min(p[0] for series in stored for p in series["points"])
        assert xs and xs[0] == first_stored, f"{metric}: the restarted process's first bucket {first_stored} " \
            f"is not drawn (first after the restart: {xs[:1]}; the process was ready at {ready_at})"
        finished = [x for x in xs if x <= now - 2000]
        holes = [(a, b) for a, b in zip(finished, finished[1:]) if b - a != 1000]
        assert len(finished) >= 3 and not holes, f"{metric}: buckets after the restart {finished}: holes {holes}"
        print(f"  {metric}: {sum(len(t['x']) for t in drawn)} points in {len(drawn)} traces, none twice, {compared} equal to /history; "
              f"after the restart every second from {xs[0]} (ready at {ready_at}) is drawn")

    shot = artifacts / "dashboard.png"
    page.save_screenshot(str(shot))
    print(f"  screenshot: {shot}")
    assert page_is_dark(page) == (False, False), "light scheme: page and axis text"
    # A phone, in the dark: loaded at that width, as a phone would.
    page.set_window_size(390, 844)
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    page.refresh()
    wait_live(page)
    wait_for(page, "const gd = document.getElementById('chart-host_cpu_usage_ratio'); return gd && gd.data && gd.data.length && gd.data[0].x.length > 10",
             what="the charts at phone width")
    assert page_is_dark(page) == (True, True), "dark scheme: a dark page, and light axis text on it"
    overflow = page.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"at phone width the page scrolls sideways by {overflow}px"
    shot = artifacts / "dashboard-phone-dark.png"
    page.save_screenshot(str(shot))
    print(f"  screenshot: {shot}")


def url_params(page):
    return parse_qs(urlparse(page.current_url).query)


def chart_ids(page):
    return page.execute_script("return [...document.querySelectorAll('.chart')].map((c) => c.id)")


def test_controls_pick_metrics_pause_and_switch_windows(page, server_factory):
    server = server_factory("controls", "--collect-interval", "200ms", "--synthetic-series", "2", "--synthetic-rate", "5").start()
    page.get(f"{server.base}/")
    wait_live(page)
    # The defaults: host CPU and memory, over 5 minutes, written into the URL.
    assert chart_ids(page) == ["chart-host_cpu_usage_ratio", "chart-host_memory_used_bytes"]
    assert url_params(page) == {"metric": ["host_cpu_usage_ratio", "host_memory_used_bytes"], "window": ["5m"]}

    # The picker lists what /api/series knows when it is opened (synthetic_value may have
    # been committed after the page loaded); a box adds or removes a chart.
    deadline = time.monotonic() + 10  # the writer commits within --batch-age (1 s)
    while not any(e["metric"] == "synthetic_value" for e in server.get_json("/api/series")["metrics"]):
        assert time.monotonic() < deadline, "synthetic_value never reached /api/series"
        time.sleep(0.1)
    page.find_element("css selector", "#metric-picker summary").click()
    listed = wait_for(page, """const boxes = [...document.querySelectorAll('#metric-list input')];
        return boxes.some((b) => b.value === 'synthetic_value') && boxes.map((b) => [b.value, b.checked])""", what="the metric list")
    known = {entry["metric"] for entry in server.get_json("/api/series")["metrics"]}
    assert {name for name, _ in listed} == known | {"host_cpu_usage_ratio", "host_memory_used_bytes"}
    assert {name for name, checked in listed if checked} == {"host_cpu_usage_ratio", "host_memory_used_bytes"}
    page.find_element("css selector", "#metric-list input[value='synthetic_value']").click()
    page.find_element("css selector", "#metric-list input[value='host_memory_used_bytes']").click()
    wait_for(page, "return [...document.querySelectorAll('.chart')].map((c) => c.id).join() === 'chart-host_cpu_usage_ratio,chart-synthetic_value'",
             what="the chosen charts")
    assert url_params(page)["metric"] == ["host_cpu_usage_ratio", "synthetic_value"]
    assert page.find_element("id", "metric-count").text == "(2)"
    wait_live(page)
    wait_for(page, "const gd = document.getElementById('chart-synthetic_value'); return gd.data && gd.data.length === 2 && gd.data[0].x.length >= 3",
             what="synthetic points")
    print(f"\n  picker: {len(listed)} metrics listed from /api/series; synthetic_value added, host memory removed, URL updated")

    # Pause: the connection closes and nothing is drawn; resume fills the pause, none twice.
    pause = page.find_element("id", "pause")
    pause.click()
    wait_for(page, "return document.getElementById('status').dataset.state === 'paused'", what="status paused")
    assert pause.get_attribute("aria-pressed") == "true" and pause.text == "Resume"
    # What arrived before the pause may still be drawn (redraws wait up to 2 s, longer on
    # a loaded machine): until the chart has held still for 3 s.
    held, still_since = traces(page, "synthetic_value"), time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() - still_since < 3:
        assert time.monotonic() < deadline, "the chart kept changing for 30 s after the pause"
        time.sleep(0.5)
        now_drawn = traces(page, "synthetic_value")
        if now_drawn != held:
            held, still_since = now_drawn, time.monotonic()
    # Paused longer than the 5 s after which a silent series counts as quiet: the bucket
    # left open by the pause must wait for the ring's replay, not be drawn short.
    time.sleep(4)
    assert traces(page, "synthetic_value") == held, "points were drawn while paused"
    pause.click()
    wait_live(page)
    assert pause.get_attribute("aria-pressed") == "false" and pause.text == "Pause"
    paused_until = max(held[0]["x"])
    wait_until_drawn_past(page, "synthetic_value", paused_until + 5000)
    assert_page_equals_history(page, server, "synthetic_value", int(time.time() * 1000))
    print("  pause: nothing drawn for 7 s and more; resume filled those seconds, every bucket equal to /history, none twice")

    # Another window: a new history request sized to the chart, its step on the axis.
    page.find_element("css selector", "label[for='window-1h']").click()
    wait_for(page, "return new URLSearchParams(location.search).get('window') === '1h'", what="window=1h in the URL")
    wait_live(page)
    chart = page.find_element("id", "chart-synthetic_value")
    assert chart.get_attribute("aria-label") == "synthetic_value over the last 1 hour"
    request = wait_for(page, """return performance.getEntriesByType('resource').map((e) => e.name)
        .filter((n) => n.includes('/history?') && n.includes('metric=synthetic_value') && n.includes('points=')).pop()""",
                       what="the 1 h history request")
    asked = parse_qs(urlparse(request).query)
    width = page.execute_script("return document.getElementById('chart-synthetic_value')._fullLayout._size.w")
    assert (asked["from"], asked["to"]) == (["-3600s"], ["now"])
    assert abs(int(asked["points"][0]) - width) <= 20, (asked["points"], width)
    step = server.get_json(f"/history?metric=synthetic_value&from=-3600s&to=now&points={asked['points'][0]}")["step"]
    # The smallest round step (README, `points`) at which an hour fits the plot's pixels.
    expected = next(k * 1000 for k in (1, 2, 5, 10, 15, 30, 60) if 3600 // k + 1 <= int(asked["points"][0]))
    assert step == expected, (step, expected)
    drawn = wait_for(page, "const t = document.getElementById('chart-synthetic_value').data[0]; return t.x.length >= 2 && t",
                     timeout=20, what="buckets of the step")
    assert all(x % step == 0 for x in drawn["x"]), f"points off the {step} ms buckets"
    print(f"  window 1h: asked points={asked['points'][0]} for a plot {width:.0f} px wide, step {step} ms, drawn on it")


def test_failed_history_shows_an_error(page, server_factory):
    server = server_factory("history-error", "--collect-interval", "200ms").start()
    page.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/history?*"]})
    page.get(f"{server.base}/?window={WINDOW}")
    text = visible_error(page, "could not be loaded")
    print(f"\n  /history blocked: {text!r}")
    # Live data still comes, and is drawn.
    wait_live(page)
    drawn = wait_for(page, "const gd = document.getElementById('chart-host_cpu_usage_ratio'); return gd && gd.data && gd.data.length && gd.data[0].x.length >= 3 && gd.data[0].x.length",
                     what="live points without history")
    print(f"  without history the chart still streams ({drawn} live points)")


def test_missing_plotly_is_said_plainly(page, server_factory):
    server = server_factory("no-plotly", "--collect-interval", "0").start()
    page.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    page.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/vendor/plotly.min.js"]})
    try:
        page.get(f"{server.base}/")
        text = visible_error(page, "Plotly could not be loaded")
        print(f"\n  plotly.min.js blocked: {text!r}")
    finally:
        page.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})


def hold_live_slot(port):
    """A WebSocket of the check's own (scripts/pulsecheck.py): holds a connection slot."""
    return WebSocket.connect(port, "/ws/metrics?metric=nothing_here")


def test_refused_websocket_shows_an_error_and_recovers(page, server_factory):
    server = server_factory("refused", "--collect-interval", "200ms", "--max-connections", "1", "--ping-interval", "60s").start()
    held = hold_live_slot(server.port)
    try:
        page.get(f"{server.base}/?window={WINDOW}")
        text = visible_error(page, "refused the live connection")
        state = status(page)
        assert state.startswith(("reconnecting", "offline")), state
        print(f"\n  live connection refused: {text!r}, status {state!r}")
    finally:
        held.close()
    wait_live(page, timeout=30)
    assert "refused" not in errors(page)
    print(f"  slot freed: status {status(page)!r}, error gone")


def main_thread_ms(page):
    """All the work of the page's main thread so far (DevTools' TaskDuration): scripts,
    Plotly, style, layout, paint, GC, and the browser's handling of each message."""
    metrics = page.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration") * 1000


def test_update_cost_at_10_series_and_10_frames_per_second(page, server_factory):
    server = server_factory("update-cost", "--collect-interval", "0", "--synthetic-series", "10", "--synthetic-rate", "10").start()
    # A full window behind the live data, as on a server that has run a while: each trace
    # then holds its window's ~300 buckets, and every redraw draws them.
    now_s = int(time.time())
    server.ingest([{"metric": "synthetic_value", "labels": {"series": str(i)}, "ts": (now_s - 300 + k) * 1000, "value": (k * (i + 1)) % 17}
                   for i in range(10) for k in range(295)])
    page.get(f"{server.base}/?metric=synthetic_value&window={WINDOW}")
    wait_live(page)
    wait_for(page, "const gd = document.getElementById('chart-synthetic_value'); return gd && gd.data && gd.data.length === 10",
             what="10 synthetic traces")
    page.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})
    page.execute_script("""window.longTasks = [];
        new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration))).observe({type: 'longtask'});""")
    time.sleep(1)
    # Three windows of 5 s: the figure is their median (the machine is shared and noisy).
    # A frame's cost is all the main thread did in the window over the frames the server
    # sent in it, redraws included: that is what 10 frames/s costs the page.
    per_frame, per_frame_measured, applies, draws, lags = [], [], [], [], []
    for _ in range(3):
        page.execute_script("performance.clearMeasures()")
        busy, sent = main_thread_ms(page), server.metric("pulsegate_ws_frames_sent_total")
        time.sleep(5)
        busy, sent = main_thread_ms(page) - busy, server.metric("pulsegate_ws_frames_sent_total") - sent
        window = page.execute_script("""
            const durations = (name) => performance.getEntriesByName(name).map((e) => e.duration);
            const gd = document.getElementById('chart-synthetic_value');
            return {apply: durations('pulsegate:apply'), draw: durations('pulsegate:draw'),
                    drawStarts: performance.getEntriesByName('pulsegate:draw').map((e) => e.startTime),
                    width: gd._fullLayout._size.w, points: gd.data.map((t) => t.x.length),
                    newest: Math.max(...gd.data.map((t) => t.x[t.x.length - 1])) + new Date().getTimezoneOffset() * 60000};""")
        assert sent >= 40, f"the server sent only {sent:.0f} frames in 5 s"
        # The chart moves: redraws are at most 2 s apart (session.js, MAX_DRAW_WAIT_MS), so
        # each 5 s window holds one at least (two or three, unless timers run late).
        assert window["draw"], "nothing was drawn in 5 s"
        per_frame.append(busy / sent)
        per_frame_measured.append((sum(window["apply"]) + sum(window["draw"])) / sent)
        applies += window["apply"]
        draws += window["draw"]
        starts = window["drawStarts"]
        lags += [b - a for a, b in zip(starts, starts[1:])]

    def p95(values):
        return sorted(values)[int(0.95 * (len(values) - 1))]

    def summary(values):
        return f"median {statistics.median(values):.2f} ms, p95 {p95(values):.2f} ms"

    long_tasks = page.execute_script("return window.longTasks")
    points = window["points"]
    print(f"\n  update cost, 10 series x 10 frames/s, 3 x 5 s, traces of {min(points)}-{max(points)} points, "
          f"plot {window['width']:.0f} px wide:\n"
          f"    main thread per frame (all its work / frames sent): median {statistics.median(per_frame):.2f} ms "
          f"({', '.join(f'{v:.2f}' for v in per_frame)}); by the page's own measures: "
          f"median {statistics.median(per_frame_measured):.2f} ms\n"
          f"    applying frames: {summary(applies)} ({len(applies)}); redraws: {summary(draws)} ({len(draws)}), "
          f"{summary(lags).replace('ms', 'ms apart', 1)}; long tasks (> 50 ms): {[round(t) for t in long_tasks]}")
    # The performance target, judged where it is robust on a loaded machine: main-thread
    # time per frame is thread time (threadTicks), which a preempted renderer does not
    # accrue; and applying frames is short synchronous work of which a stall can spoil a
    # few samples, not the 95th percentile.
    assert statistics.median(per_frame) <= 4, f"the main thread spent {per_frame} ms per frame: over the 4 ms target"
    assert p95(applies) <= 4, f"applying frames took {summary(applies)}"
    # A redraw and the rendering after it are one task, 40 to 60 ms here at times: over
    # the Long Tasks API's 50 ms, a frame or three dropped. A task of 100 ms would be a
    # hitch anyone sees; but long tasks are wall-clock time, and on a shared 2-core
    # machine the renderer is now and then preempted, or the VM stalls (~1 s at times),
    # in any task: a few such in 15 s say nothing of the page (with a schemathesis run
    # beside it: 116, 220 and 109 ms). A page that hitches spends a good part of its time
    # in them (and shows in the per-frame cost above): a tenth of the 15 s at most.
    hitches = [round(t) for t in long_tasks if t >= 100]
    assert sum(hitches) <= 1500, f"{sum(hitches)} ms of the 15 s in tasks of 100 ms or more: {hitches}"
    # The budget spaces redraws, but must not stop the chart: the median spacing stays
    # near MAX_DRAW_WAIT_MS (2 s) at most (a median, since one stalled timer is no defect)
    # and the chart stays behind the stream by seconds, not by the length of the test
    # (10 s: two redraw waits, the quiet time, and a stall's worth of slack).
    assert len(draws) >= 4, f"{len(draws)} redraws in 15 s"
    assert statistics.median(lags) <= 2500, f"redraws {summary(lags)} apart"
    behind = time.time() * 1000 - window["newest"]
    assert behind <= 10000, f"the chart lags the stream by {behind:.0f} ms"
    for trace in traces(page, "synthetic_value"):
        assert_increasing(trace)


def test_legend_hides_and_shows_a_line(page, server_factory):
    server = server_factory("legend", "--collect-interval", "0", "--synthetic-series", "3", "--synthetic-rate", "5").start()
    page.get(f"{server.base}/?metric=synthetic_value&window={WINDOW}")
    wait_live(page)
    wait_for(page, "const gd = document.getElementById('chart-synthetic_value'); return gd && gd.data && gd.data.length === 3",
             what="3 synthetic traces")
    legend = page.find_element("css selector", ".card .legend")
    assert legend.is_displayed()
    buttons = legend.find_elements("css selector", "button")
    names = page.execute_script("return document.getElementById('chart-synthetic_value').data.map((t) => t.name)")
    assert [b.text for b in buttons] == names, "the legend does not list the traces in order"
    visible = "return document.getElementById('chart-synthetic_value').data.map((t) => t.visible)"
    buttons[1].click()
    wait_for(page, visible + ".join() === 'true,false,true'", what="the second line hidden")
    assert buttons[1].get_attribute("aria-pressed") == "false"
    # Still extended while hidden, and shown again with what came meanwhile.
    length = page.execute_script("return document.getElementById('chart-synthetic_value').data[1].x.length")
    wait_for(page, "return document.getElementById('chart-synthetic_value').data[1].x.length > arguments[0]", length,
             what="the hidden line to go on")
    buttons[1].click()
    wait_for(page, visible + ".join() === 'true,true,true'", what="the second line shown again")
    print(f"\n  legend: {len(buttons)} entries in trace order; a press hides a line, which goes on receiving points, and shows it again")


def test_token_is_asked_for_stored_and_sent(page, server_factory):
    """Against a gateway with real tokens: a 401 brings the token field, a token without
    the read scope (403) brings it back, a read token opens history and the stream."""
    read, write = "read-" + "r" * 27, "write-" + "w" * 26
    # At debug level the gateway logs every request, the WebSocket's ?token= included.
    server = server_factory("tokens", "--collect-interval", "0", "--synthetic-series", "2", "--synthetic-rate", "5",
                            "--log-level", "debug", env={"PULSEGATE_TOKENS": f"read:{read} write:{write}"}).start()
    now = int(time.time() * 1000)
    server.ingest([{"metric": "synthetic_value", "labels": {"series": "0"}, "ts": now - 60_000 + k * 1000, "value": k}
                   for k in range(30)], token=write)
    try:
        page.get(f"{server.base}/?metric=synthetic_value&window={WINDOW}")
        page.execute_script("localStorage.clear()")
        page.refresh()
        wait_for(page, "return !document.getElementById('token-form').hidden", what="the token form")
        assert page.find_element("id", "token").is_displayed()
        visible_error(page, "asks for an access token")

        def enter(value):
            page.find_element("id", "token").send_keys(value)
            page.find_element("css selector", "#token-form button[type=submit]").click()

        enter(write)
        visible_error(page, "needs the read scope")
        wait_for(page, "return !document.getElementById('token-form').hidden", what="the token form again")

        enter(read)
        wait_for(page, "return document.getElementById('token-form').hidden", what="the form to go")
        wait_live(page)
        # History came through with the token (the 30 stored points), and so does the stream.
        drawn = wait_for(page, """const gd = document.getElementById('chart-synthetic_value');
            const t = gd && gd.data && gd.data.find((t) => t.name.includes('series="0"'));
            return t && t.x.length > 30 && t.x.length""", timeout=20, what="history and live points")
        assert page.execute_script("return localStorage.getItem('pulsegate.token')") == read
        assert "access token" not in errors(page), errors(page)
        log = "".join(path.read_text() for path in server.dir.glob("pulsegate-*.log"))
        assert read not in log and write not in log, "a token is in the server's log"
        assert "token=<redacted>" in log, "the live connection's request was not logged"
        print(f"\n  tokens: 401 brought the token field, a write-only token was refused (403), a read token "
              f"opened history and the stream ({drawn} points); stored, and never in the server's log")
    finally:
        page.execute_script("localStorage.clear()")


def test_merge_rules_of_a_series(page, server_factory):
    """buckets.js, in the browser that runs it: what is skipped, replaced and drawn."""
    server = server_factory("merge-rules", "--collect-interval", "0").start()
    page.get(f"{server.base}/")
    result = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/lib/buckets.js').then(({ BucketedSeries }) => {
          const out = [];
          const s = new BucketedSeries(1000);
          s.addBucket(10000, 1, out);            // from history
          s.addBucket(11000, 2, out);
          s.addSample(11500, 99, out);           // replayed by the ring: inside a finished bucket
          s.addSample(12100, 3, out);            // the open bucket...
          s.addSample(12100, 3, out);            // ...the same sample again (a resumed stream)
          s.addSample(12600, 5, out);
          const beforeClose = out.length;
          s.addBucket(12000, 4.5, out);          // history's full bucket replaces the partial one
          s.addSample(12700, 50, out);           // already in that bucket: skipped
          s.addSample(13200, 7, out);
          s.addSample(14100, 8, out);            // closes 13000
          s.addSample(13900, 70, out);           // late, for a drawn bucket: skipped
          s.closeIfBefore(15000, out);           // quiet: 14000 drawn
          done({ out, beforeClose });
        }, (e) => done(String(e)));""")
    assert result["beforeClose"] == 2, result
    assert result["out"] == [[10000, 1], [11000, 2], [12000, 4.5], [13000, 7], [14000, 8]], result
    print("\n  merge rules: replays and repeats skipped, history's bucket replaces a partial one, late samples never redraw")


def test_reconnect_backoff_is_exponential_with_jitter(page, server_factory):
    """live.js's delays, in the browser: 0.5 s doubling to a 15 s ceiling, each between half
    and all of its ceiling, and spread (pages that lost the same server do not return at once)."""
    server = server_factory("backoff", "--collect-interval", "0").start()
    page.get(f"{server.base}/")
    delays = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/lib/live.js').then(({ LiveConnection }) => {
          const live = new LiveConnection({ metrics: [], onFrame() {}, onState() {} });
          done([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => Array.from({ length: 200 }, () => live.nextDelay(attempt))));
        }, (e) => done(String(e)));""")
    for attempt, samples in zip([0, 1, 2, 3, 4, 5, 6, 10], delays):
        ceiling = min(15000, 500 * 2 ** attempt)
        assert all(ceiling / 2 <= d <= ceiling for d in samples), (attempt, min(samples), max(samples))
        assert max(samples) - min(samples) > ceiling / 4, f"attempt {attempt}: no jitter to speak of"
    print("\n  backoff: 0.5 s doubling to 15 s, each delay within [ceiling/2, ceiling], spread")


# Every change of the status line, with the page's clock: when a retry was announced and
# when the page went live, in the page's own time.
STATUS_LOG = """
window.__statusLog = [];
const status = document.getElementById('status');
const note = () => window.__statusLog.push({ t: Date.now(), state: status.dataset.state, text: status.textContent });
new MutationObserver(note).observe(status, { attributes: true, childList: true, subtree: true, characterData: true });
"""

# The retry the status line announces last, as the page's time it is due, if that is
# arguments[0] ms away or more; false or null otherwise.
# "next try in N s" is the delay rounded, announced once the connection is found gone (a
# few ms after the timer is set, offline): due no earlier than (N - 0.5) s after the
# announcement, less 200 ms for that.
NEXT_RETRY_DUE = """
const last = window.__statusLog.filter((e) => /next try in \\d+ s/.test(e.text)).pop();
if (!last || last.state !== 'offline') return null;
const n = Number(last.text.match(/next try in (\\d+) s/)[1]);
const due = last.t + (n - 0.5) * 1000 - 200;
return due - Date.now() >= arguments[0] && { due, now: Date.now(), text: last.text };
"""


def test_offline_is_shown_and_coming_online_reconnects_at_once(page, server_factory):
    server = server_factory("offline", "--collect-interval", "200ms").start()
    page.get(f"{server.base}/?window={WINDOW}")
    wait_live(page)
    page.execute_script(STATUS_LOG)
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    page.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    try:
        server.stop()  # the connection goes; with the browser offline, retries cannot succeed
        wait_for(page, "return document.getElementById('status').dataset.state === 'offline'", what="status offline")
        server.start()
        # Attempts fail at once while offline, so the backoff grows: wait for a retry due
        # 4 s or more from now, so that coming online at once and waiting for the backoff
        # are seconds apart, whatever the machine's load.
        retry = wait_for(page, NEXT_RETRY_DUE, 4000, timeout=90, what="a retry 4 s or more away")
        text = status(page)
        assert text.startswith("offline"), text
    finally:
        page.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
    # Back online: the `online` event retries at once (and again 0.5 s later if the
    # network was not quite there yet), not at the end of the backoff. Judged by the
    # page's clock against the retry it had scheduled, not by how fast this machine is:
    # live must come before that retry was due.
    wait_live(page, timeout=60)
    live_at = page.execute_script("return window.__statusLog.filter((e) => e.state === 'live').pop().t")
    assert live_at < retry["due"], f"live at {live_at}, not before the retry due at {retry['due']:.0f} ({retry['text']!r})"
    print(f"\n  offline: {text!r}; back online, live again {(live_at - retry['now']) / 1000:.1f} s later, "
          f"{(retry['due'] - live_at) / 1000:.1f} s before the retry was due")


# A gap of exactly the frames chosen, at a moment chosen: this wraps the page's WebSocket
# before the app loads, and on request it swallows the next N sample frames and then hands
# over a `gap` frame shaped as the server's (LiveFrame.swift). The real one, from a server
# that dropped frames for a stalled connection, is the last case below.
DROPPING_WEBSOCKET = """
(() => {
  const Native = WebSocket;
  window.__dropFrames = 0;
  window.WebSocket = class extends Native {
    set onmessage(handler) {
      let dropped = null;
      super.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        if (frame.type === 'samples' && window.__dropFrames > 0) {
          window.__dropFrames -= 1;
          const ts = frame.samples.map((s) => s.ts);
          dropped ??= { from_seq: frame.seq, dropped: 0, from_ts: Math.min(...ts), to_ts: 0 };
          dropped.dropped += 1;
          dropped.to_ts = Math.max(dropped.to_ts, ...ts);
          dropped.seq = frame.seq;
          return;
        }
        if (dropped) {
          handler.call(this, { data: JSON.stringify({ type: 'gap', ...dropped }) });
          dropped = null;
        }
        handler.call(this, event);
      };
    }
  };
})();
"""


def test_gap_frame_is_filled_from_history(page, server_factory):
    server = server_factory("gap", "--collect-interval", "200ms").start()
    script = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DROPPING_WEBSOCKET})
    try:
        page.get(f"{server.base}/?window={WINDOW}")
        wait_live(page)
        wait_for(page, "const gd = document.getElementById('chart-host_cpu_usage_ratio'); return gd && gd.data && gd.data.length && gd.data[0].x.length >= 3",
                 what="a few CPU points")
        page.execute_script("window.__dropFrames = 10")  # two seconds of batches
        gaps = wait_for(page, "return performance.getEntriesByName('pulsegate:backfill').map(e => e.detail).filter(d => d.type === 'gap')",
                        what="a backfill after the gap frame")
        for metric in ["host_cpu_usage_ratio", "host_memory_used_bytes"]:
            wait_until_drawn_past(page, metric, gaps[0]["to"] + 2000)
        now = int(time.time() * 1000)
        for metric in ["host_cpu_usage_ratio", "host_memory_used_bytes"]:
            assert_page_equals_history(page, server, metric, now)
        print(f"\n  simulated gap of 10 frames (up to ts {gaps[0]['to']}): filled from history, every bucket equal to /history, none twice")
    finally:
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


# Only listens: every `gap` frame the page's WebSocket receives, as the server sent it.
GAP_RECORDER = """
(() => {
  const Native = WebSocket;
  window.__gaps = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string' && event.data.startsWith('{"type":"gap"')) window.__gaps.push(JSON.parse(event.data));
      });
    }
  };
})();
"""


def test_real_gap_frame_from_a_stalled_connection_is_filled_from_history(page, server_factory):
    """A real gap: the page's live connection stalls on the way (a relay stops passing the
    server's bytes on, as a congested link would), the server's outbox for it (16 KiB) fills
    and it drops frames for it, and when the link moves again the server sends its `gap`
    frame. The page must fill the gap from /history. 30 series x 20 frames/s (some 50 KB/s)
    fill the server's socket buffer in seconds: the relay's small window and segments keep
    it far below the megabytes that loopback TCP would otherwise buffer. Uncompressed: the
    compressed frames are a tenth the size, and would take minutes to fill it."""
    server = server_factory("real-gap", "--collect-interval", "0", "--synthetic-series", "30", "--synthetic-rate", "20",
                            "--outbox-bytes", "16384", "--slow-client-timeout", "120s", "--no-live-compression").start()
    relay = Relay(server.port, upstream_buffer=4096)
    script = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": GAP_RECORDER})
    try:
        page.get(f"http://127.0.0.1:{relay.port}/?metric=synthetic_value&window={WINDOW}")
        wait_live(page)
        wait_for(page, "const gd = document.getElementById('chart-synthetic_value'); return gd && gd.data && gd.data.length === 30 && gd.data.every((t) => t.x.length >= 3)",
                 timeout=30, what="30 synthetic traces")
        # The outbox (16 KiB) holds several frames (2.7 KB each), so that a loaded machine
        # does not make the server drop frames before the stall; should it all the same,
        # their gap frames are recorded and counted too.
        before = server.metric("pulsegate_ws_frames_dropped_total")
        relay.hold("GET /ws/metrics")
        try:
            deadline = time.monotonic() + 90
            while (dropped := server.metric("pulsegate_ws_frames_dropped_total")) < before + 10:
                assert time.monotonic() < deadline, f"the server dropped only {dropped - before:.0f} frames in 90 s of stall"
                time.sleep(0.2)
        finally:
            relay.release()
        marks = wait_for(page, "return performance.getEntriesByName('pulsegate:backfill').map(e => e.detail).filter(d => d.type === 'gap')",
                         timeout=60, what="a backfill after the server's gap frame")
        # Every frame the server dropped for the page is announced in a gap frame.
        deadline = time.monotonic() + 30
        while True:
            gaps = page.execute_script("return window.__gaps")
            dropped = server.metric("pulsegate_ws_frames_dropped_total")
            if sum(g["dropped"] for g in gaps) == dropped:
                break
            assert time.monotonic() < deadline, f"gap frames announce {sum(g['dropped'] for g in gaps)} dropped frames, the server counts {dropped:.0f}: {gaps}"
            time.sleep(0.2)
        assert all(g["from_ts"] <= g["to_ts"] and g["from_seq"] <= g["seq"] for g in gaps), gaps
        # ...and the page backfilled up to the last of them.
        wait_for(page, "return performance.getEntriesByName('pulsegate:backfill').some((e) => e.detail.type === 'gap' && e.detail.to === arguments[0])",
                 max(g["to_ts"] for g in gaps), timeout=30, what=f"a backfill to the last gap's to_ts; had {marks}")
        wait_until_drawn_past(page, "synthetic_value", max(g["to_ts"] for g in gaps) + 2000)
        now = int(time.time() * 1000)
        _, compared = assert_page_equals_history(page, server, "synthetic_value", now)
        print(f"\n  real gap: {dropped:.0f} frames dropped by the server in {len(gaps)} gap frame(s) "
              f"(ts {gaps[0]['from_ts']}..{gaps[-1]['to_ts']}); filled from history, {compared} buckets equal to /history, none twice")
    finally:
        relay.release()
        relay.shutdown()
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
