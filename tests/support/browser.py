"""Open a page in headless Chromium and read it back over the DevTools protocol: the console
errors (console.error, uncaught exceptions, the browser's own error log entries such as a failed
load) and the values of JavaScript expressions evaluated in the loaded page.

Chromium must be installed (Debian package ``chromium``): without it this fails, never skips.
It knows nothing of the code under test. Usage::

    page = inspect_page(Path("report.html"), {"tiles": "document.querySelectorAll('g.tile').length"})
    assert not page.console_errors and page.values["tiles"] == 85
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

START_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 60.0


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or the page did not load."""


@dataclass
class Page:
    console_errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("chromium is not installed (Debian: apt-get install -y chromium)")


def inspect_page(path: Path, expressions: dict[str, str], *, window: tuple[int, int] = (1280, 2000)) -> Page:
    tmp = Path(tempfile.mkdtemp(prefix="sferum-cdp-"))
    try:
        return asyncio.run(_inspect(tmp, path.resolve().as_uri(), expressions, window))
    finally:
        _remove(tmp)


def _remove(directory: Path) -> None:
    """Chromium's helper processes (crashpad, utility) can still write into the profile for a
    moment after the browser's group was stopped: remove until nothing is left."""
    for _ in range(50):
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            return
        time.sleep(0.1)
    shutil.rmtree(directory)


class _Cdp:
    """Commands with ids, answered by the reader task; events kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.new_event = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                self.new_event.set()

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, LOAD_TIMEOUT_S)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return dict(answer.get("result", {}))

    async def wait_for(self, method: str, session: str) -> None:
        async def seen() -> None:
            while not any(e["method"] == method and e.get("sessionId") == session for e in self.events):
                self.new_event.clear()
                await self.new_event.wait()

        await asyncio.wait_for(seen(), LOAD_TIMEOUT_S)


async def _inspect(tmp: Path, url: str, expressions: dict[str, str], window: tuple[int, int]) -> Page:
    profile = tmp / "profile"
    args = [
        chromium_path(),
        "--headless",
        "--no-sandbox",  # root in CI containers; the page is a local file of the test
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--window-size={window[0]},{window[1]}",
        "about:blank",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=os.environ | {"HOME": str(tmp)},
        start_new_session=True,  # its own process group: the helpers it starts are stopped with it
    )
    try:
        endpoint = await _endpoint(profile / "DevToolsActivePort", proc)
        async with aiohttp.ClientSession() as http, http.ws_connect(endpoint, max_msg_size=0) as ws:
            cdp = _Cdp(ws)
            target = await cdp.call("Target.createTarget", url="about:blank")
            session = (await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True))["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                await cdp.call(f"{domain}.enable", session)
            await cdp.call("Page.navigate", session, url=url)
            await cdp.wait_for("Page.loadEventFired", session)
            page = Page()
            for name, expression in expressions.items():
                result = await cdp.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
                if "exceptionDetails" in result:
                    raise BrowserError(f"{name}: {expression} threw {result['exceptionDetails'].get('text')}")
                page.values[name] = result["result"].get("value")
            await asyncio.sleep(0.2)  # late log entries of the load
            page.console_errors = _errors(cdp.events, session)
            cdp.reader.cancel()
            return page
    finally:
        await _stop_group(proc)


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM to the browser's process group; then SIGKILL to the group, for the browser if it
    did not stop in 10 s and for any helper that outlived it."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 10)
    _signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing left in the group
        os.killpg(group, sig)


async def _endpoint(port_file: Path, proc: asyncio.subprocess.Process) -> str:
    """Chromium writes its port and browser path into DevToolsActivePort once it listens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise BrowserError(f"chromium exited with {proc.returncode} before it listened")
        if port_file.is_file():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.1)
    raise BrowserError(f"chromium did not listen within {START_TIMEOUT_S:.0f} s")


def _errors(events: list[dict[str, Any]], session: str) -> list[str]:
    out = []
    for event in events:
        if event.get("sessionId") != session:
            continue
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif event["method"] == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            out.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return out
