"""Report pages opened in Debian's headless Chromium, driven by Playwright.

Playwright is told which Chromium to run (no browser of its own is downloaded); each page keeps
the console errors and the URLs it requested, which the tests read.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from playwright.sync_api import ConsoleMessage, Playwright, Request, sync_playwright
from playwright.sync_api import Page as PlaywrightPage

# Seconds a page may take to load, a condition to come true, a call to answer.
TIMEOUT = 30.0


class Browser:
    def __init__(self, executable: Path) -> None:
        self._playwright: Playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, timeout=TIMEOUT * 1000
            )
        except BaseException:
            self._playwright.stop()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        """A new page at ``url``, once its load event has fired."""
        page = Page(self._browser.new_page(viewport={"width": width, "height": height}))
        page.page.goto(url, wait_until="load", timeout=TIMEOUT * 1000)
        return page


class Page:
    def __init__(self, page: PlaywrightPage) -> None:
        self.page = page
        page.set_default_timeout(TIMEOUT * 1000)
        self._errors: list[str] = []
        self._requested: list[str] = []
        # Listening before navigating, so that nothing the page does on load is missed.
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._errors.append(str(error)))
        page.on("request", self._on_request)

    def _on_console(self, message: ConsoleMessage) -> None:
        # Chromium's own reports (a blocked or failed load, a CSP violation) arrive here too.
        if message.type in ("error", "assert"):
            self._errors.append(f"{message.text} ({message.location.get('url', '')})")

    def _on_request(self, request: Request) -> None:
        self._requested.append(request.url)

    def evaluate(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait_until(self, expression: str, timeout: float = 15) -> None:
        """Waits until the JavaScript ``expression`` is true (Playwright's TimeoutError if not)."""
        self.page.wait_for_function(expression, timeout=timeout * 1000)

    def console_errors(self) -> list[str]:
        """Errors the page logged, threw, or the browser reported for it (CSP, loading)."""
        return list(self._errors)

    def requested(self) -> list[str]:
        return list(self._requested)

    def screenshot(self, path: Path, full_page: bool = False, element: str | None = None) -> Path:
        """A PNG of the viewport, of the whole page, or of the element a CSS selector names."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if element is not None:
            self.page.locator(element).screenshot(path=path)
        else:
            self.page.screenshot(path=path, full_page=full_page)
        return path

    def pdf(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.pdf(path=path, prefer_css_page_size=True, print_background=True)
        return path
