"""JSON types are strict at every REST door: DRF's CharField turns a number into text
(`{"label": 5}` became the label "5", `{"name": 1.5}` a team called "1.5"). A client sending
a number where text belongs has a bug it should hear about, so text fields take only strings.
Installed once, for every serializer of every app (core.apps), rather than field by field."""

from __future__ import annotations

from typing import Any

from rest_framework import fields

_char_to_internal_value = fields.CharField.to_internal_value


def _strict_to_internal_value(self: fields.CharField, data: Any) -> str:
    if not isinstance(data, str):
        raise fields.ValidationError(
            f"Expected a JSON string, got {_json_type(data)}; send the value in quotes."
        )
    return _char_to_internal_value(self, data)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a " + type(value).__name__


def install() -> None:
    if fields.CharField.to_internal_value is not _strict_to_internal_value:
        fields.CharField.to_internal_value = _strict_to_internal_value  # type: ignore[method-assign]
