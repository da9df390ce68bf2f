"""Store text in the terminal (issue 20 items 7 and 9): escapes neutralised, sizes bounded."""

import json

import pytest

from workbench.record.text import LIMITS, StoreAttrError, check_attrs, printable


@pytest.mark.parametrize("raw", ["T-shirt\x1b[2J", "a\x1b[8mhidden", "bell\x07", "del\x7f",
                                 "csi\x9b2J", "bidi\u202eevil", "nul\x00"])
def test_printable_leaves_no_control_character(raw):
    out = printable(raw)
    assert all(c.isprintable() for c in out), repr(out)
    assert out[0] == raw[0] and out.endswith(raw[-1] if raw[-1].isprintable() else "")


def test_printable_writes_escapes_visibly_and_keeps_what_is_asked():
    assert printable("x\x1b[2J") == "x\\x1b[2J"
    assert printable("a\nb\tc", keep="\n\t") == "a\nb\tc"
    assert printable("a\nb") == "a\\x0ab"
    assert printable("Ankle boot éß") == "Ankle boot éß"  # ordinary text untouched


def test_a_long_config_string_is_refused_naming_the_attr():
    cfg = {"momentum": "0.9" * (LIMITS["config value"]), "lr": 0.1}
    with pytest.raises(StoreAttrError, match=r"config\['momentum'\] is 3,000 characters; "
                                             r"a config value has at most 1,000"):
        check_attrs({"config": json.dumps(cfg)})
    check_attrs({"config": json.dumps({"momentum": "0.9", "lr": 0.1})})  # a sane one passes


def test_long_class_and_layer_names_are_refused_naming_them():
    with pytest.raises(StoreAttrError, match=r"classes\[1\] is 201 characters"):
        check_attrs({"classes": json.dumps(["cat", "d" * 201])})
    with pytest.raises(StoreAttrError, match=r"layer 'lll.*is 501 characters"):
        check_attrs({}, layers=["conv1", "l" * 501])
    check_attrs({"classes": json.dumps(["cat", "dog"])}, layers=["conv1", "fc"])
