"""One rule for stored text (crm.validators): no NUL, no half of a character, and human text
counted in the characters a reader sees; every form and every API input of every app keeps it
(the walk below fails on a text field without it)."""

import importlib
import pkgutil

import pytest
from django import forms
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers

from crm.api.base import TextField as ApiTextField
from crm.validators import (
    NOT_A_TEXT,
    NOTHING_VISIBLE,
    TOO_FEW_VISIBLE,
    UNSTORABLE_TEXT,
    MinVisibleLengthValidator,
    is_storable,
    validate_storable_text,
    visible_length,
)
from crm.web import TextField

APPS = ("crm", "goals", "supervision", "tracking")


# --- The rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "storable"),
    [("plain", True), ("héllo wörld ✓ 🚚", True), ("a\x00b", False), ("a\ud800b", False),
     ("\udfff", False), ("\U0001f69a", True)],
)  # fmt: skip
def test_storable_text_has_no_nul_and_no_half_character(text, storable):
    assert is_storable(text) is storable


@pytest.mark.parametrize(
    ("text", "length"),
    [("Wrong target", 12), ("\u200b" * 12, 0), ("  two   words  ", 9), ("\ufeffBOM\u200d", 3),
     ("e\u0301te\u0301", 3), ("\u202eevil\u202c", 4), ("a\u00a0\u00a0b", 3), ("\t\n", 0)],
)  # fmt: skip
def test_visible_length_counts_what_a_reader_sees(text, length):
    assert visible_length(text) == length


def test_twelve_zero_width_spaces_are_no_ten_characters():
    with pytest.raises(Exception) as refused:
        MinVisibleLengthValidator(10)("\u200b" * 12)
    assert refused.value.messages == [TOO_FEW_VISIBLE.format(limit=10, count=0)]
    MinVisibleLengthValidator(10)("Wrong data")  # ten a reader sees


@pytest.mark.parametrize("value", ["a\x00b", "half \ud800 a character"])
def test_the_form_field_refuses_what_cannot_be_stored(value):
    field = TextField(max_length=50)
    with pytest.raises(forms.ValidationError) as refused:
        field.clean(value)
    assert refused.value.messages == [UNSTORABLE_TEXT]


def test_the_form_field_counts_visible_characters():
    field = TextField(min_length=10)
    with pytest.raises(forms.ValidationError):
        field.clean("\u200b" * 12)
    with pytest.raises(forms.ValidationError) as blank:
        TextField().clean("\u200b\u200c")
    assert blank.value.messages == [NOTHING_VISIBLE]
    assert field.clean(" Wrong data ") == "Wrong data"
    assert field.widget_attrs(forms.TextInput())["minlength"] == "10"


@pytest.mark.parametrize(
    ("value", "message"),
    [("a\x00b", UNSTORABLE_TEXT), ("a\ud800b", UNSTORABLE_TEXT), (12, NOT_A_TEXT),
     (1e309, NOT_A_TEXT), (True, NOT_A_TEXT), (["a"], NOT_A_TEXT), ({"a": 1}, NOT_A_TEXT),
     ("\u200b" * 12, NOTHING_VISIBLE)],
)  # fmt: skip
def test_the_api_field_refuses_what_is_no_storable_text(value, message):
    class Input(serializers.Serializer):
        text = ApiTextField(max_length=50)

    serializer = Input(data={"text": value})
    assert not serializer.is_valid()
    assert serializer.errors == {"text": [message]}


def test_the_api_field_counts_visible_characters_and_keeps_blank_when_allowed():
    class Input(serializers.Serializer):
        reason = ApiTextField(min_length=10)
        note = ApiTextField(required=False, allow_blank=True)

    short = Input(data={"reason": "\u200b" * 12})
    fine = Input(data={"reason": "Wrong data", "note": "  "})
    assert not short.is_valid() and short.errors["reason"][0].startswith("Ensure this value")
    assert fine.is_valid(), fine.errors
    assert fine.validated_data == {"reason": "Wrong data", "note": ""}


# --- Every form and every API input keeps it --------------------------------------------------


def _import_everything() -> None:
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if any(part in module.name for part in (".tests", ".migrations", ".testing")):
                continue
            importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in APPS and ".tests" not in cls.__module__


_import_everything()

FORMS = sorted(
    (cls for cls in _subclasses(forms.BaseForm) if _ours(cls)),
    key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)


def _views() -> set[type]:
    def walk(resolver):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None) or getattr(
                    pattern.callback, "view_class", None
                )
                if view is not None:
                    yield view

    return set(walk(get_resolver()))


INPUT_NAMES = ("InputSerializer", "FilterSerializer", "QuerySerializer", "ArgumentsSerializer")
SERIALIZERS = sorted(
    {
        *(filter(None, (c for view in _views() for c in getattr(view, "inputs", {}).values()))),
        *(
            cls
            for cls in _subclasses(serializers.Serializer)
            if _ours(cls) and cls.__name__.endswith(INPUT_NAMES)
        ),
    },
    key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)


def _text_fields_without_the_rule(fields: dict, prefix: str = "") -> list[str]:
    missing = []
    for name, field in fields.items():
        text = isinstance(field, forms.CharField | serializers.CharField) and not isinstance(
            field, forms.UUIDField
        )
        if (
            text
            and not getattr(field, "read_only", False)
            and (validate_storable_text not in field.validators)
        ):
            missing.append(prefix + name)
        for inner in (getattr(field, "child", None),):
            if isinstance(inner, serializers.Serializer):
                missing += _text_fields_without_the_rule(inner.fields, f"{prefix}{name}.")
            elif inner is not None:
                missing += _text_fields_without_the_rule({"[]": inner}, f"{prefix}{name}")
        if isinstance(field, serializers.Serializer):
            missing += _text_fields_without_the_rule(field.fields, f"{prefix}{name}.")
    return missing


def test_the_walk_finds_the_forms_and_inputs_of_every_app():
    modules = {cls.__module__.split(".")[0] for cls in FORMS + SERIALIZERS}
    assert modules == set(APPS)
    assert len(FORMS) >= 20 and len(SERIALIZERS) >= 20


@pytest.mark.parametrize("form", FORMS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_text_field_of_every_form_refuses_what_cannot_be_stored(form):
    missing = _text_fields_without_the_rule(form.base_fields)
    assert missing == [], f"build these from crm.web.TextField: {missing}"


@pytest.mark.parametrize(
    "serializer", SERIALIZERS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}"
)
def test_every_text_field_of_every_api_input_refuses_what_cannot_be_stored(serializer):
    try:
        fields = serializer().fields
    except TypeError:  # takes keyword arguments of its own (the list's arguments)
        fields = serializer(search=object(), orderings={}).fields
    missing = _text_fields_without_the_rule(fields)
    assert missing == [], f"build these from crm.api.base.TextField: {missing}"


def _text_fields(serializer: type) -> list[str]:
    try:
        fields = serializer().fields
    except TypeError:
        fields = serializer(search=object(), orderings={}).fields
    return [name for name, field in fields.items() if isinstance(field, ApiTextField)]


API_TEXT_FIELDS = [
    (serializer, name) for serializer in SERIALIZERS for name in _text_fields(serializer)
]


@pytest.mark.parametrize(
    ("serializer", "name"),
    API_TEXT_FIELDS,
    ids=[f"{cls.__qualname__}.{name}" for cls, name in API_TEXT_FIELDS],
)
@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", "\ud800", "\udfff x"])
def test_every_api_text_field_answers_what_cannot_be_stored_on_its_field(serializer, name, value):
    try:
        instance = serializer(data={name: value}, partial=True)
    except TypeError:
        instance = serializer(data={name: value}, search=object(), orderings={})
    assert not instance.is_valid()
    assert UNSTORABLE_TEXT in instance.errors[name]
