"""Headless Chromium driven over the DevTools protocol (a websocket; tornado's client, which
Dask already installs), for loading a page and collecting every console and JavaScript error.

No browser download: Debian's ``chromium`` (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--remote-debugging-port=0",
         "--window-size=1280,900"]


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One Chromium process; ``load(url)`` returns the page's errors and leaves it open."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="datamill-chromium-")
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"chromium did not start (exit code {self.proc.poll()})")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        for _ in range(100):
            pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            pages = [p for p in pages if p["type"] == "page"]
            if pages:
                break
            time.sleep(0.05)
        self.ws_url = pages[0]["webSocketDebuggerUrl"]
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.ws = self.loop.run_until_complete(self._connect())
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method)

    async def _connect(self):
        from tornado.websocket import websocket_connect

        return await websocket_connect(self.ws_url, max_message_size=256 * 2**20)

    async def _call(self, method: str, params: dict, timeout: float) -> dict:
        msg_id = next(self.ids)
        await self.ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout)
            if raw is None:
                raise RuntimeError("chromium closed the DevTools connection")
            msg = json.loads(raw)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    async def _wait_event(self, method: str, timeout: float) -> None:
        while not any(e["method"] == method for e in self.events):
            raw = await asyncio.wait_for(self.ws.read_message(), timeout)
            if raw is None:
                raise RuntimeError("chromium closed the DevTools connection")
            msg = json.loads(raw)
            if "method" in msg:
                self.events.append(msg)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        return self.loop.run_until_complete(self._call(method, params, timeout))

    def load(self, url: str, settle: float = 0.3) -> list[str]:
        """Navigate, wait for the load event (and ``settle`` seconds for late errors); return
        every console error, uncaught exception and error-level log entry, as text."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.loop.run_until_complete(self._wait_event("Page.loadEventFired", 30))
        self.evaluate(f"new Promise(r => setTimeout(r, {int(settle * 1000)}))")
        return self.errors()

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description")))
                                                               for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry']['text']} ({p['entry'].get('url', '')})")
        return out

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The full page as PNG."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(height, 12000),
                  deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._close())
        finally:
            self.proc.kill()
            self.proc.wait()
            self.loop.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    async def _close(self):
        self.ws.close()
