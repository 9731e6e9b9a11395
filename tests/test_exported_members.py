"""The public API is exactly what __init__ exports, and each public name is documented."""

from __future__ import annotations

import inspect

import invoice_async
from invoice_async import errors

CONTRACT = {
    "ClientStats",
    "InvoiceClient",
    "Invoice",
    "InvoiceDetail",
    "InvoiceStore",
    "Outcome",
    "PaymentStatus",
    "PdfDownload",
    "SyncSummary",
    "errors",
    "to_dict",
}


def test_all_is_the_documented_contract() -> None:
    assert set(invoice_async.__all__) == CONTRACT
    for name in CONTRACT:
        assert getattr(invoice_async, name) is not None


def test_every_public_name_has_a_docstring() -> None:
    for name in invoice_async.__all__:
        assert inspect.getdoc(getattr(invoice_async, name)), name
    for cls in (invoice_async.InvoiceClient, invoice_async.InvoiceStore):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and (callable(member) or isinstance(member, property)):
                assert inspect.getdoc(member), f"{cls.__name__}.{name}"


def test_every_error_derives_from_the_base_and_is_exported() -> None:
    exported = {name: getattr(errors, name) for name in errors.__all__}
    classes = [cls for name, cls in exported.items() if name != "FieldError"]
    assert set(exported) - {cls.__name__ for cls in classes} == {"FieldError"}
    assert all(issubclass(cls, errors.InvoiceAsyncError) for cls in classes)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.StoreLockedError, errors.StoreError)
    for cls in classes:
        assert cls.__name__ in (errors.__doc__ or ""), cls.__name__


def test_field_error_is_an_exported_named_pair_not_an_exception() -> None:
    assert "FieldError" in errors.__all__
    assert issubclass(errors.FieldError, tuple)
    assert not issubclass(errors.FieldError, BaseException)
    assert errors.FieldError._fields == ("property", "message")
    assert inspect.getdoc(errors.FieldError)
    assert "FieldError" in (errors.__doc__ or "")


def test_package_ships_py_typed() -> None:
    from importlib.resources import files

    assert files("invoice_async").joinpath("py.typed").is_file()
