"""Web security policy in one place: where a browser may be sent back to after signing in.

(Security headers, the cross-site request check and cookie flags join this module as they are built.)
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import quote, unquote, urlsplit

# Control characters, spaces and backslashes: browsers drop tabs and newlines from URLs and read "\" as "/",
# so "/\t/evil.example" or "/\\evil.example" would leave the site. Never part of a path we send people to.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def local_path(value: str, section: str) -> str | None:
    """`value` as a path of this site inside `section` (e.g. "/console", a whole path segment), normalised
    (percent-decoded, dot segments and repeated slashes resolved), with its query; None if it is anything else.

    The normalised path is what the caller redirects to, so what was checked is what the browser opens:
    "/console/../admin/" and "/console/..//evil.example" leave the section, "/consolefoo" is another page.
    """
    if not value.startswith("/") or _UNSAFE.search(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    decoded = unquote(parts.path)
    if _UNSAFE.search(decoded):
        return None
    path = posixpath.normpath(decoded)
    if path.startswith("//"):  # normpath keeps a leading "//"
        return None
    if path != section and not path.startswith(section.rstrip("/") + "/"):
        return None
    if decoded.endswith("/") and not path.endswith("/"):
        path += "/"
    return quote(path, safe="/:@!$&'()*+,;=~") + (f"?{parts.query}" if parts.query else "")
