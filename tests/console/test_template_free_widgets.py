"""The queue page's template-free widgets draw what Django's widget templates draw."""

import datetime

import pytest
from django import forms

from console.forms import FastDateInput, FastTextInput, PlainNullBooleanSelect, PlainSelect

CHOICES = [("", "—"), ("a", 'A & <b> "c"'), ("a", "A again"), (1, "one")]


@pytest.mark.parametrize(
    "django_widget, ours, value, attrs",
    [
        (
            forms.TextInput(attrs={"type": "search", "placeholder": 'words, "a phrase" <x>'}),
            FastTextInput(attrs={"type": "search", "placeholder": 'words, "a phrase" <x>'}),
            "a\"<b>&'",
            {"id": "id_q", "required": True, "maxlength": 5, "hidden": False},
        ),
        (forms.TextInput(), FastTextInput(), None, {"id": "id_q"}),
        (forms.DateInput(attrs={"type": "date"}), FastDateInput(), datetime.date(2026, 1, 2), {}),
        (forms.DateInput(attrs={"type": "date"}), FastDateInput(), "2026-13-40", {"id": "d"}),
        (forms.Select(choices=CHOICES), PlainSelect(choices=CHOICES), None, {"id": "id_s"}),
        (forms.Select(choices=CHOICES), PlainSelect(choices=CHOICES), "a", {"id": "id_s"}),
        (
            forms.Select(choices=[("G", [("x", "X"), ("y", "Y")]), ("z", "Z")]),
            PlainSelect(choices=[("G", [("x", "X"), ("y", "Y")]), ("z", "Z")]),
            "y",
            {},
        ),
        (forms.NullBooleanSelect(), PlainNullBooleanSelect(), None, {"id": "n"}),
        (forms.NullBooleanSelect(), PlainNullBooleanSelect(), True, {"id": "n"}),
        (forms.NullBooleanSelect(), PlainNullBooleanSelect(), "false", {"id": "n"}),
    ],
)
def test_the_same_text_as_django(django_widget, ours, value, attrs):
    assert ours.render("f", value, attrs) == django_widget.render("f", value, attrs)
