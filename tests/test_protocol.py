"""The pure protocol module: table-driven, no event loop, no server."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from invoice_async import errors
from invoice_async._protocol import (
    Page,
    PdfCheck,
    Secret,
    Window,
    detail_by_number_path,
    detail_path,
    error_from_response,
    expect_list,
    expect_single,
    filter_query,
    list_answer_bytes,
    list_headers,
    list_path,
    page_of,
    parse_retry_after,
    pdf_path,
)
from invoice_async.testing import parse_ranged_data
from tests._samples import STATUS_CLASSES


@pytest.mark.parametrize(
    ("window", "header"),
    [(Window(0, 100), "start=0,results=100"), (Window(250, 25), "start=250,results=25")],
)
def test_window_header_is_the_documented_format(window: Window, header: str) -> None:
    assert window.header() == header
    assert parse_ranged_data(header) == (window.start, window.results)  # the server's reading


@pytest.mark.parametrize(
    ("window", "token", "headers"),
    [
        (Window(0, 100), None, {"RANGED-DATA": "start=0,results=100"}),
        (Window(99, 100), "t1", {"PAGE-TOKEN": "t1"}),  # a token names its page by itself
    ],
)
def test_list_headers_send_the_window_or_the_page_token_alone(
    window: Window, token: str | None, headers: dict[str, str]
) -> None:
    assert list_headers(window, token) == headers


def test_page_of_refuses_more_than_four_times_the_items_asked_for() -> None:
    assert len(page_of([{}] * 400, {}, url="u", page_size=100).items) == 400
    with pytest.raises(errors.InvalidResponseError, match="401 items for a window of 100"):
        page_of([{}] * 401, {}, url="u", page_size=100)
    assert list_answer_bytes(100) == 100 * 16 * 1024


def test_page_of_reads_the_items_and_the_next_page_token() -> None:
    assert page_of([{"id": "1"}], {"PAGE-TOKEN": "t2"}, url="u") == Page([{"id": "1"}], "u", "t2")
    assert page_of([], {}, url="u").page_token is None
    with pytest.raises(errors.InvalidResponseError, match="JSON array"):
        page_of({"id": "1"}, {}, url="u")


@pytest.mark.parametrize(
    ("text", "query"),
    [
        (None, ""),
        ("this is an example", "filter=this%20is%20an%20example"),
        ("a&b=c", "filter=a%26b%3Dc"),
        ("50% off", "filter=50%25%20off"),
        ("1+1", "filter=1%2B1"),
        ("a/b", "filter=a%2Fb"),
        ("Dédié", "filter=D%C3%A9di%C3%A9"),
        ("#?", "filter=%23%3F"),
    ],
)
def test_filter_query_percent_encodes_every_reserved_character(
    text: str | None, query: str
) -> None:
    assert filter_query(text) == query


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (list_path(unpaid=False), "/v3/account/invoice"),
        (list_path(unpaid=True), "/v3/account/invoice/unpaid"),
        (detail_path(42), "/v3/account/invoice/42"),
        (pdf_path(42), "/v3/account/invoice/42/pdf"),
        (detail_by_number_path("2024/0001"), "/v3/account/invoice/number/2024%2F0001"),
        (detail_by_number_path("a/../b"), "/v3/account/invoice/number/a%2F..%2Fb"),
        (detail_by_number_path("x?y#z"), "/v3/account/invoice/number/x%3Fy%23z"),
        (detail_by_number_path("100%"), "/v3/account/invoice/number/100%25"),
    ],
)
def test_paths_keep_the_invoice_number_in_one_segment(path: str, expected: str) -> None:
    assert path == expected


class FormatsAsAPath(int):
    def __format__(self, spec: str) -> str:
        return "../../x"


@pytest.mark.parametrize("bad", [True, -7, 0, FormatsAsAPath(7)])
def test_paths_hold_only_the_digits_of_an_exact_positive_int(bad: int) -> None:
    for path in (detail_path, pdf_path):
        with pytest.raises(errors.ConfigurationError, match="invoice id"):
            path(bad)
    assert detail_path(7) == "/v3/account/invoice/7"


def test_secret_never_shows_its_value() -> None:
    secret = Secret("s3cr3t-value")
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in str(secret)
    assert "s3cr3t" not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_error_from_response_picks_the_class_from_the_status(
    status: int, cls: type[errors.ApiError]
) -> None:
    body = b'{"errorCode": 10001, "errorMessage": "Entity not found", "errors": []}'
    error = error_from_response(status, body, method="GET", url="https://a/v3/x")
    assert type(error) is cls
    assert (error.status, error.error_code, error.error_message) == (
        status,
        10001,
        "Entity not found",
    )
    assert "https://a/v3/x" in str(error)


def test_error_from_response_reads_the_errors_list() -> None:
    body = b'{"errorCode": 3, "errorMessage": "Invalid", "errors": [{"property": "id", "message": "must be int"}]}'  # noqa: E501
    error = error_from_response(400, body, method="GET", url="u")
    assert error.errors == [errors.FieldError(property="id", message="must be int")]
    assert all(type(item) is errors.FieldError for item in error.errors)
    assert "id: must be int" in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", ""),
        (b'["not", "an", "object"]', '["not", "an", "object"]'),
        (b'[{"errorCode": 7, "errorMessage": "wrapped"}]', "wrapped"),
        (b"line\r\nbreak", "line  break"),
    ],
)
def test_error_from_response_tolerates_bodies_that_are_not_the_error_object(
    body: bytes, message: str
) -> None:
    error = error_from_response(502, body, method="GET", url="u")
    assert isinstance(error, errors.ServerError)
    assert error.error_message == message


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ERROR_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "errorCode": JSON_VALUES,
        "errorMessage": JSON_VALUES,
        "errors": JSON_VALUES
        | st.lists(
            st.fixed_dictionaries({}, optional={"property": JSON_VALUES, "message": JSON_VALUES})
            | JSON_VALUES,
            max_size=4,
        ),
    },
)


@given(payload=ERROR_OBJECTS | st.lists(ERROR_OBJECTS, max_size=2) | JSON_VALUES)
@example(payload={"errors": True})
@example(payload={"errors": 7, "errorMessage": {"nested": [1]}})
@example(payload={"errors": [True, "x", None, {"property": [], "message": {}}]})
@example(payload={"errorMessage": [[[[[[[[[[[]]]]]]]]]]], "errorCode": True})
def test_any_json_error_body_gives_the_typed_error(payload: Any) -> None:
    body = orjson.dumps(payload)
    error = error_from_response(400, body, method="GET", url="u")
    assert type(error) is errors.BadRequestError
    assert error.error_code is None or type(error.error_code) is int
    assert isinstance(error.error_message, str)
    assert all(
        type(item) is errors.FieldError
        and isinstance(item.property, str)
        and isinstance(item.message, str)
        for item in error.errors
    )
    assert str(error).startswith("HTTP 400")


def test_an_error_message_nested_past_the_recursion_limit_gives_the_typed_error() -> None:
    body = b'{"errorMessage": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    error = error_from_response(503, body, method="GET", url="u")
    assert type(error) is errors.ServerError
    assert (error.error_message, error.errors) == ("", [])


def test_rate_limit_error_carries_retry_after_seconds() -> None:
    error = error_from_response(429, b"", method="GET", url="u", retry_after="7")
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("5", 5.0),
        ("0.25", 0.25),
        ("-3", 0.0),
        ("Wed, 21 Oct 2026 07:28:10 GMT", 10.0),
        ("garbage", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    value: str | None, seconds: float | None
) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


@pytest.mark.parametrize(
    ("payload", "ok"),
    [([{"id": 1}], True), ({"id": 1}, True), ([], False), ([{}, {}], False), ("x", False)],
)
def test_expect_single_accepts_the_array_rule_and_a_bare_object(payload: object, ok: bool) -> None:
    if ok:
        assert expect_single(payload, url="u") == {"id": 1}
    else:
        with pytest.raises(errors.InvalidResponseError):
            expect_single(payload, url="u")


def test_expect_list_refuses_an_object() -> None:
    with pytest.raises(errors.InvalidResponseError, match="JSON array"):
        expect_list({"id": 1}, url="u")


def _pdf_check(**overrides: object) -> PdfCheck:
    kwargs: dict[str, object] = {
        "url": "u",
        "content_type": "application/pdf",
        "content_length": None,
        "max_bytes": 100,
    }
    kwargs.update(overrides)
    return PdfCheck(**kwargs)  # type: ignore[arg-type]  # test table


@pytest.mark.parametrize(
    ("chunks", "overrides", "error"),
    [
        ([b"%PDF-1.4 body"], {}, None),
        ([b"%P", b"DF", b"-1.4"], {}, None),  # magic split across chunks
        ([b"%PDF-1.4"], {"content_length": 8}, None),
        ([b"%PDF-1.4"], {"content_type": None}, None),
        ([b"<html>"], {}, errors.InvalidResponseError),
        ([b"%P"], {}, errors.InvalidResponseError),  # too short to be a PDF
        ([b"%PDF-1.4"], {"content_length": 20}, errors.TransportError),  # cut short
        ([b"%PDF-" + b"x" * 200], {}, errors.InvalidResponseError),  # over max_bytes
    ],
)
def test_pdf_check(
    chunks: list[bytes], overrides: dict[str, object], error: type[Exception] | None
) -> None:
    def run() -> int:
        check = _pdf_check(**overrides)
        for chunk in chunks:
            check.feed(chunk)
        return check.finish()

    if error is None:
        assert run() == sum(map(len, chunks))
    else:
        with pytest.raises(error):
            run()


@pytest.mark.parametrize(
    "overrides",
    [{"content_type": "text/html; charset=utf-8"}, {"content_length": 101}],
)
def test_pdf_check_refuses_wrong_type_or_oversize_before_any_byte(
    overrides: dict[str, object],
) -> None:
    with pytest.raises(errors.InvalidResponseError):
        _pdf_check(**overrides)
