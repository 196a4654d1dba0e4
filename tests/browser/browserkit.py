"""A minimal W3C WebDriver client over httpx for Debian's chromium + chromedriver (no selenium needed).

Only what the browser tests use: start chromedriver, open a headless session, navigate, run async scripts,
read the current URL. Everything talks to 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-browser.sh"


class WebDriverError(RuntimeError):
    pass


def find_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing them with scripts/install-browser.sh when missing."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600, check=False
        )
        chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if chromium is None or driver is None:
            raise WebDriverError(
                f"chromium/chromedriver could not be installed (exit {result.returncode}): {result.stderr[-2000:]}"
            )
    return chromium, driver


class Chromium:
    """chromedriver on a loopback port driving one headless chromium session."""

    def __init__(self, chromium: str, driver: str, port: int) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="smarts3-chromium-", ignore_cleanup_errors=True)
        self._driver = subprocess.Popen(
            [driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        self.session_id = ""
        try:
            self._wait_ready()
            capabilities = {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {
                            "binary": chromium,
                            "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}"],
                        },
                    }
                }
            }
            value = self._call("POST", "/session", capabilities)
            self.session_id = value["sessionId"]
            self._call("POST", f"/session/{self.session_id}/timeouts", {"script": 30_000, "pageLoad": 30_000})
        except BaseException:
            self.quit()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._driver.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self._driver.returncode}")
            try:
                if self._http.get("/status").json()["value"]["ready"]:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        raise WebDriverError("chromedriver did not become ready within 20 s")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        payload = response.json()
        value = payload.get("value")
        if response.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def _session(self, suffix: str) -> str:
        return f"/session/{self.session_id}{suffix}"

    def get(self, url: str) -> None:
        self._call("POST", self._session("/url"), {"url": url})

    @property
    def current_url(self) -> str:
        return str(self._call("GET", self._session("/url")))

    def run_async(self, body: str, *args: Any) -> Any:
        """Run ``body`` as an async function in the page; its return value (JSON-able) comes back."""
        script = (
            "const done = arguments[arguments.length - 1];"
            f"(async (...args) => {{ {body} }})(...Array.from(arguments).slice(0, -1))"
            ".then(done, (e) => done({__error: String(e)}));"
        )
        return self._call("POST", self._session("/execute/async"), {"script": script, "args": list(args)})

    def run(self, body: str, *args: Any) -> Any:
        return self._call("POST", self._session("/execute/sync"), {"script": body, "args": list(args)})

    def quit(self) -> None:
        try:
            if self.session_id:
                self._http.delete(self._session(""))
        except httpx.HTTPError:
            pass
        finally:
            self._http.close()
            self._driver.terminate()
            try:
                self._driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait(timeout=10)
            self._profile.cleanup()
