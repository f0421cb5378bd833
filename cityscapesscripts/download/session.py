"""HTTP for csDownload on the standard library: one cookie session, redirects answered, not followed.

The Cityscapes site says "logged in" with a 302 and "no access" by
redirecting to its login page, so every answer reaches the caller with its
status.  Connection failures and the statuses of an overloaded server are
transient: :meth:`Session.retry` waits and tries again, and starts its count
afresh whenever an attempt made progress (a long download over a flaky line
may drop many times).
"""
import http.client
import http.cookiejar
import os
import ssl
import sys
import time
import urllib.parse
import urllib.request

from tqdm import tqdm

from .. import __version__
from ..errors import DownloadError

DEFAULT_BASE_URL = "https://www.cityscapes-dataset.com"
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """A failure worth retrying: the connection broke, timed out, or the server was overloaded."""


class _KeepStatus(urllib.request.HTTPErrorProcessor):
    """Hand every response to the caller: no exception for 4xx/5xx, no redirect followed."""

    def http_response(self, request, response):
        return response

    https_response = http_response


class Session:
    """Cookies and base URL of one visit to the Cityscapes site (``--base-url`` / ``$CITYSCAPES_DOWNLOAD_URL``)."""

    retry_delays = (1, 2, 4, 8, 16)  # seconds before each retry; five retries without progress, then give up
    timeout = 60  # seconds without an answer or a byte before a connection counts as broken

    def __init__(self, base_url=None):
        self.base_url = (base_url or os.environ.get("CITYSCAPES_DOWNLOAD_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _KeepStatus())
        self._opener.addheaders = [("User-Agent", f"cityscapesscripts/{__version__} (csDownload)")]

    def url(self, path):
        return self.base_url + path

    def open_once(self, method, path, form=None, headers=None):
        """The response to one request; raises :class:`TransientError` for a broken connection or 408/429/5xx."""
        data = None if form is None else urllib.parse.urlencode(form).encode()
        try:
            request = urllib.request.Request(self.url(path), data=data, headers=headers or {}, method=method)
        except ValueError as e:
            raise DownloadError(f"bad base URL {self.base_url!r}: {e}") from e
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except (http.client.HTTPException, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, ssl.SSLCertVerificationError):  # will not heal by waiting
                raise DownloadError(f"cannot reach {self.base_url}: {reason}") from e
            raise TransientError(f"cannot reach {self.base_url}: {reason}") from e
        if response.status in TRANSIENT_STATUSES:
            response.close()
            raise TransientError(f"HTTP {response.status} {response.reason}")
        return response

    def open(self, method, path, form=None, headers=None):
        """:meth:`open_once`, retried while the failure is transient."""
        return self.retry(lambda: self.open_once(method, path, form, headers), f"{method} {self.url(path)}")

    def retry(self, attempt, what, progress=lambda: 0):
        """``attempt()``, again after each :class:`TransientError` until ``retry_delays`` run out.

        ``progress()`` is a number that grows when an attempt achieved
        something (bytes received); growth resets the count of retries.
        """
        failures, mark = 0, progress()
        while True:
            try:
                return attempt()
            except TransientError as e:
                if progress() != mark:
                    failures, mark = 0, progress()
                if failures == len(self.retry_delays):
                    raise DownloadError(f"{what}: {e} ({failures} retries)") from e
                delay = self.retry_delays[failures]
                failures += 1
                tqdm.write(f"{what}: {e}; retrying in {delay} s", file=sys.stderr)  # above a progress bar
                time.sleep(delay)

    def check(self, response, *expected):
        """Raise a :class:`DownloadError` naming the URL unless the response's status is one of ``expected``."""
        if response.status in expected:
            return response
        response.close()
        if 300 <= response.status < 400:
            where = response.headers.get("Location", "elsewhere")
            raise DownloadError(f"{response.url} redirected to {where}: not logged in, or no access to it")
        raise DownloadError(f"{response.url} answered HTTP {response.status} {response.reason}")
