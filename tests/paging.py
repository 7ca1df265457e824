"""Following a portal list's keyset pager (tenants.portal.listing) in view tests."""

import html
import re

PAGER_LINK = re.compile(r'<a href="([^"]*)" rel="(prev|next)">')


def pager_links(response) -> dict[str, str]:
    """{"next": older page's query string, "prev": newer page's} of a rendered list."""
    page = response.content.decode()
    return {rel: html.unescape(href) for href, rel in PAGER_LINK.findall(page)}


def follow(client, path: str, response, rel: str = "next"):
    """GET the page the pager's Older ("next") or Newer ("prev") link points to."""
    return client.get(path + pager_links(response)[rel])
