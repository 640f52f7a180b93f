"""No inventory screen or API path answers 500 for an id that cannot exist (beyond a
BIGINT): the database driver must never see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from rxdesk.api import api

BIG = "99999999999999999999"


def _inventory_urls(patterns: list[Any]) -> Iterator[URLPattern]:
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace != "api":
                yield from _inventory_urls(p.url_patterns)
        elif isinstance(p, URLPattern) and (p.name or "").startswith("inventory_"):
            yield p


@pytest.mark.django_db
def test_ids_beyond_a_bigint_are_not_found_never_a_server_error(pic):
    client = Client()
    client.force_login(pic)
    answered = []
    for path, item in api.get_openapi_schema()["paths"].items():
        if "/inventory/" in path and "{" in path:
            concrete = re.sub(r"\{[^}]+\}", BIG, path)
            for method in item:
                body = None if method == "get" else {}
                response = getattr(client, method)(
                    concrete, data=body, content_type="application/json"
                )
                answered.append((method, path, response.status_code))
    for pattern in _inventory_urls(get_resolver().url_patterns):
        keys = list(pattern.pattern.regex.groupindex)
        if keys:
            url = reverse(str(pattern.name), kwargs=dict.fromkeys(keys, BIG))
            for method in ("get", "post"):
                answered.append((method, pattern.name, getattr(client, method)(url).status_code))
    assert len(answered) > 50
    assert [a for a in answered if a[2] >= 500] == []
