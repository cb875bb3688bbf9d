"""The http plugin's allow-list matches the URL the server will read: dot segments and
encoded variants cannot climb out of an allowed prefix."""

from __future__ import annotations

import pytest

from roost_event_engine.plugins.fetch import AllowList, FetchError

ALLOW = AllowList(["http://api.local:8080/allowed/", "https://hooks.example/notify"])


@pytest.mark.parametrize(
    "url",
    [
        "http://api.local:8080/allowed/../secret",
        "http://api.local:8080/allowed/./../secret",
        "http://api.local:8080/allowed/x/../../secret",
        "http://api.local:8080/allowed/%2e%2e/secret",
        "http://api.local:8080/allowed/%2E%2E/secret",
        "http://api.local:8080/allowed/..%2fsecret",
        "http://api.local:8080/allowed/%2e./secret",
        "http://api.local:8080/allowed/..%5csecret",
        "http://api.local:8080/allowed/..\\secret",
        "http://api.local:8080/allowed/%252e%252e/secret",
        "http://api.local:8080/allowed%2f../secret",
        "http://api.local:8080/allowedX",
        "http://api.local:8080/allowed",
        "http://user:pw@api.local:8080/allowed/x",
        "http://api.local:8080@evil.example/allowed/x",
        "http://api.local:9090/allowed/x",
        "https://hooks.example/notify-all",
        "https://hooks.example/notify/../admin",
        "ftp://api.local:8080/allowed/x",
    ],
)
def test_urls_outside_the_prefixes_are_refused(url: str) -> None:
    with pytest.raises(FetchError):
        ALLOW.check(url)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://api.local:8080/allowed/x", "http://api.local:8080/allowed/x"),
        ("http://API.local.:8080/allowed/a/../b", "http://api.local:8080/allowed/b"),
        ("http://api.local:8080/allowed/a%20b?q=1", "http://api.local:8080/allowed/a%20b?q=1"),
        ("https://hooks.example/notify", "https://hooks.example/notify"),
        ("https://hooks.example/notify/deep", "https://hooks.example/notify/deep"),
    ],
)
def test_allowed_urls_are_sent_as_the_server_reads_them(url: str, sent: str) -> None:
    assert ALLOW.check(url) == sent
