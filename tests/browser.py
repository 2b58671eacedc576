"""Headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe):
no driver, no websocket library, one browser per test module. Pages are opened at a window width,
scripts evaluated in them, screenshots taken.

CI installs Chromium (.ci/run); a machine without it fails these tests rather than skipping them
when BOOKTRANS_REQUIRE_BROWSER is set (as .ci/run does)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def need_chromium() -> str:
    """The browser's path; a skip where none is installed, a failure where CI requires one."""
    path = find_chromium()
    if path is None:
        if os.environ.get("BOOKTRANS_REQUIRE_BROWSER"):
            pytest.fail(
                "Chromium is required here (BOOKTRANS_REQUIRE_BROWSER) but not installed: apt-get install chromium"
            )
        pytest.skip("no Chromium installed (apt install chromium)")
    return path


class Chromium:
    """One headless browser. ``open(url, width)`` gives a Page; close() ends the process."""

    def __init__(self, path: str | None = None, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="booktrans-chromium-")
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def fds():  # the browser reads commands on fd 3 and writes replies on fd 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)  # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [path or need_chromium(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            close_fds=False,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for k, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(k)
            self.events.append(self._read(deadline))

    def open(self, url: str, width: int, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.events = [e for e in self.events if e.get("sessionId") != session]
        page.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def js(self, expression: str):
        """The value of a JavaScript expression (promises awaited); a thrown error fails loudly."""
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                v = self.js(expression)
            except RuntimeError:  # the page is reloading: its old context is gone
                v = None
            if v:
                return v
            time.sleep(0.1)
        raise TimeoutError(f"never true: {expression}")

    def screenshot(self, path, full: bool = True) -> None:
        res = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full})
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(res["data"]))

    def hover(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def shot_of(self, selector: str, path) -> None:
        """A screenshot of the first element matching ``selector``."""
        r = self.js(
            "(() => { const b = document.querySelector(%s).getBoundingClientRect(); "
            "return {x: b.left + scrollX, y: b.top + scrollY, width: b.width, height: b.height}; })()"
            % json.dumps(selector)
        )
        res = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {**r, "scale": 1}}
        )
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(res["data"]))

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


# Measured in the page: what a person would notice.
OVERFLOW = """(() => { const s = document.scrollingElement;
  const wide = [...document.querySelectorAll('table, figure, pre, .item, svg')]
      .filter(e => e.getBoundingClientRect().right > s.clientWidth + 1)
      .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' right=' + Math.round(e.getBoundingClientRect().right));
  return {scrollWidth: s.scrollWidth, clientWidth: s.clientWidth, wide: wide}; })()"""  # noqa: E501


def jump_hidden(selector: str) -> str:
    """For every element matching ``selector``: jump to it as a link to its id does, and report the
    ones whose top edge ends under the sticky header."""
    return """(() => { const header = document.querySelector('header');
  const out = []; const all = [...document.querySelectorAll(%s)];
  for (const e of all) { location.hash = '#' + e.id; e.scrollIntoView();
    const h = header.getBoundingClientRect().bottom; const top = e.getBoundingClientRect().top;
    if (top < h - 1) out.push(e.id + ': top ' + Math.round(top) + ' under header bottom ' + Math.round(h)); }
  window.scrollTo(0, 0); return {checked: all.length, hidden: out}; })()""" % json.dumps(selector)
