"""JSON types are strict at every REST door: DRF's CharField turns a number into text
(`{"label": 5}` became the label "5", `{"name": 1.5}` a team called "1.5"), its BooleanField
takes "yes", "on" and 1 for true, and its IntegerField takes "10" and 10.0. A client sending
the wrong type has a bug it should hear about, so text fields take only strings, booleans only
true or false, and integers only JSON integers. The API parses only JSON bodies (core.api.
parsers), so this is what every serializer sees. Installed once, for every serializer of every
app (core.apps), rather than field by field."""

from __future__ import annotations

from typing import Any

from rest_framework import fields

_char_to_internal_value = fields.CharField.to_internal_value
_bool_to_internal_value = fields.BooleanField.to_internal_value
_int_to_internal_value = fields.IntegerField.to_internal_value


def _strict_to_internal_value(self: fields.CharField, data: Any) -> str:
    if not isinstance(data, str):
        raise fields.ValidationError(
            f"Expected a JSON string, got {_json_type(data)}; send the value in quotes."
        )
    return _char_to_internal_value(self, data)


def _strict_bool(self: fields.BooleanField, data: Any) -> bool:
    if not isinstance(data, bool):
        raise fields.ValidationError(f"Expected true or false, got {_json_type(data)}.")
    return _bool_to_internal_value(self, data)


def _strict_int(self: fields.IntegerField, data: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise fields.ValidationError(
            f"Expected a whole number, got {_json_type(data)}; send it without quotes."
        )
    return _int_to_internal_value(self, data)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a " + type(value).__name__


def install() -> None:
    if fields.CharField.to_internal_value is not _strict_to_internal_value:
        fields.CharField.to_internal_value = _strict_to_internal_value  # type: ignore[method-assign]
        fields.BooleanField.to_internal_value = _strict_bool  # type: ignore[method-assign]
        fields.IntegerField.to_internal_value = _strict_int  # type: ignore[method-assign]
