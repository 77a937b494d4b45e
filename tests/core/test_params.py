"""fleetwatch.core.params: what each kind of query parameter accepts."""

import uuid

import pytest

from fleetwatch.core import params
from fleetwatch.core.params import InvalidParameter


def test_integer_ids_fit_a_64_bit_column():
    assert params.integer({"id": " 42 "}, "id") == 42
    assert params.integer({"id": str(2**63 - 1)}, "id") == 2**63 - 1
    assert params.integer({}, "id") is None
    for bad in (str(2**63), "٣", "4e2", "0x1f", "9" * 5000):
        with pytest.raises(InvalidParameter, match=r"^id: '.*' is not an id$"):
            params.integer({"id": bad}, "id")


def test_lists_drop_empty_items_and_normalise_uuids():
    one = uuid.uuid4()
    assert params.uuid_list({"ids": f",{str(one).upper()},,{one.hex}"}, "ids") == [one, one]
    assert params.slug_list({"s": "a,,b-c_1"}, "s") == ["a", "b-c_1"]
    assert params.text_list({}, "s") == []


def test_control_characters_are_refused_everywhere():
    for read in (params.text, params.text_list, params.slug, params.slug_list, params.uuid_list):
        with pytest.raises(InvalidParameter, match="contains a control character"):
            read({"p": "a\x00b"}, "p")
    assert params.text({"q": "naïve ap"}, "q") == "naïve ap"
