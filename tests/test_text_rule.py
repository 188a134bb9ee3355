"""The control-character rule shared by every service (``cardcrm.common.text``)."""

import pytest
from cardcrm.common.text import control_character_error, printable


@pytest.mark.parametrize("value", ["Ofertă — Șantier Țicleni", "a\tb\r\nc", "", "emoji 🙂"])
def test_text_a_person_types_passes(value):
    assert control_character_error(value) is None
    assert printable(value) == value


@pytest.mark.parametrize(
    ("value", "code"),
    [("a\x0bb", "U+000B"), ("\x00", "U+0000"), ("del\x7f", "U+007F"), ("c1\x85", "U+0085")],
)
def test_control_characters_are_refused_by_name(value, code):
    assert code in control_character_error(value)
    assert control_character_error(printable(value)) is None


def test_a_lone_surrogate_is_refused():
    assert "surrogate" in control_character_error("x\ud800")
    assert printable("x\ud800y") == "xy"


def test_one_line_text_loses_its_line_breaks():
    assert printable("Ana\nPopescu\x0b", one_line=True) == "Ana Popescu "
