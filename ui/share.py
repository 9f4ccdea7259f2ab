"""Joining a lecture: the exact current view as a URL, and that URL as a large QR code.

The URL is the one the lecturer's browser shows (scheme, host, port, path),
so it is right on a laptop, behind the hall's HAProxy and on Community Cloud
alike; the query string is the view's (every widget is bound to the URL).
Without the browser's address (an old client, a test), it is rebuilt from the
request headers the browser sent, preferring what a proxy forwarded
(X-Forwarded-Proto / -Host / -Prefix) over the Host it saw.

References:
    Streamlit 1.67 API: st.context.url (the browser's URL, without the query
    string), st.context.headers (the websocket request's headers).
    RFC 7239 section 5 and the de-facto X-Forwarded-* headers (HAProxy's
    `option forwardfor`, deploy/haproxy.cfg.tmpl).
    Community Cloud serves the app itself under `/~/+/` inside its page
    (streamlit/streamlit#5084): that inner path is not the link to share.
    ISO/IEC 18004 QR codes, drawn by segno.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

CLOUD_INNER_PATH = "/~/+"


def _first(value: str | None) -> str:
    """The first of a comma-separated header value (a proxy chain lists the client's side first)."""
    return (value or "").split(",")[0].strip()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return _first(value)
    return ""


def view_url(
    browser_url: str | None,
    headers: Mapping[str, str],
    page_path: str,
    query: Iterable[tuple[str, str]],
) -> str:
    """The full URL of the current view: base from the browser (else headers), then `?query`.

    `page_path` is the page's URL path (`perceptron`, "" for home), used when the
    base comes from headers; the browser's URL already ends with it.
    """
    if browser_url:
        parts = urlsplit(browser_url)
        scheme, host, path = parts.scheme, parts.netloc, parts.path
    else:
        scheme = _header(headers, "X-Forwarded-Proto") or "http"
        host = _header(headers, "X-Forwarded-Host") or _header(headers, "Host") or "localhost:8501"
        prefix = _header(headers, "X-Forwarded-Prefix").rstrip("/")
        path = f"{prefix}/{page_path}" if page_path else f"{prefix}/"
    if path.startswith(CLOUD_INNER_PATH):
        path = path[len(CLOUD_INNER_PATH) :] or "/"
    query_string = urlencode(list(query), quote_via=quote, safe="")
    return urlunsplit((scheme, host, path or "/", query_string, ""))


def is_local_only(url: str) -> bool:
    """True when the URL's host is this computer only (students' phones cannot open it)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=32)
def qr_png(url: str, scale: int = 10) -> bytes:
    """The URL as a QR code PNG (error correction M, the standard 4-module quiet zone)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
