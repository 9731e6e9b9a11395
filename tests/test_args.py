"""The argument checks: each refuses bad input with ConfigurationError, before any request."""

from __future__ import annotations

import pytest

from invoice_async import errors
from invoice_async._args import (
    check_base_url,
    check_filter,
    check_invoice_id,
    check_invoice_number,
    check_non_negative_int,
    check_positive_int,
    check_positive_seconds,
)
from invoice_async._protocol import Secret


class FormatsAsAPath(int):
    def __format__(self, spec: str) -> str:
        return "../x"


@pytest.mark.parametrize("bad", [0, -5, "abc", "5", None, True, False, 1.0, [1], FormatsAsAPath(7)])
def test_check_invoice_id_refuses_anything_but_a_positive_exact_int(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="invoice id") as info:
        check_invoice_id(bad)
    assert "../x" not in str(info.value)


@pytest.mark.parametrize("bad", ["", "   ", None, 5, ".", "..", "a\nb", "a\rb", "x" * 257])
def test_check_invoice_number_refuses_what_cannot_be_one_segment(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="invoice number"):
        check_invoice_number(bad)


@pytest.mark.parametrize(
    ("check", "bad"),
    [
        (check_positive_int, 0),
        (check_positive_int, -1),
        (check_positive_int, "x"),
        (check_positive_int, True),
        (check_positive_int, 2.0),
        (check_non_negative_int, -1),
        (check_non_negative_int, None),
        (check_positive_seconds, -1.0),
        (check_positive_seconds, 0),
        (check_positive_seconds, float("nan")),
        (check_positive_seconds, float("inf")),
        (check_positive_seconds, "3"),
    ],
)
def test_numeric_checks_name_the_argument(check: object, bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="the_name"):
        check("the_name", bad)  # type: ignore[operator]  # each check takes (name, value)


@pytest.mark.parametrize("bad", [5, "a\r\nX-Evil: 1", "a\x00", "x" * 1025])
def test_check_filter_refuses_non_text_and_header_injection(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="filter"):
        check_filter(bad)


@pytest.mark.parametrize("bad", ["", "zq9\n", " zq9", "zq\r\n9", 123, b"zq9", "zq9\udcff", "zqé9"])
def test_the_token_check_refuses_empty_or_injected_tokens_without_echoing_them(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        Secret(bad).check()
    if isinstance(bad, str) and bad.strip():
        assert bad.strip() not in str(info.value)


@pytest.mark.parametrize(
    ("url", "kwargs", "expected"),
    [
        ("https://api.i3d.net", {}, "https://api.i3d.net"),
        ("https://api.i3d.net/", {}, "https://api.i3d.net"),
        ("https://proxy.example/i3d/", {}, "https://proxy.example/i3d"),
        ("http://127.0.0.1:8080", {}, "http://127.0.0.1:8080"),
        ("http://localhost:1", {}, "http://localhost:1"),
        ("http://[::1]:1", {}, "http://[::1]:1"),
        ("http://api.example", {"allow_insecure_http": True}, "http://api.example"),
    ],
)
def test_check_base_url_accepts_https_and_loopback_http(
    url: str, kwargs: dict[str, bool], expected: str
) -> None:
    assert check_base_url(url, **kwargs) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.i3d.net",
        "ftp://api.i3d.net",
        "api.i3d.net",
        "https://user:pw@api.i3d.net",
        "https://api.i3d.net?x=1",
        None,
    ],
)
def test_check_base_url_refuses_plain_http_and_odd_urls(url: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="base_url"):
        check_base_url(url)
