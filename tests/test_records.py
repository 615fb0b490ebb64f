"""The one JSON reader: errors inside a JSON list name the item's own line, not its index."""

import pytest

from lingualift.core.io import InputError
from lingualift.core.records import read_instructions, read_records


def test_an_error_in_a_json_list_names_the_line_of_the_item(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n\n  {"instruction": "c",\n   "output": 5},\n'
                    '  {"instruction": "e", "output": "f"}\n]\n')
    with pytest.raises(InputError) as err:
        read_instructions(str(path))
    assert (err.value.line, err.value.message) == (4, "output must be a string")
    path.write_text('[{"text": "x"},\n {"text": "\\ud800"}]')
    with pytest.raises(InputError) as err:
        read_records(path)
    assert err.value.line == 2 and "lone surrogate" in err.value.message
    path.write_text('[{"text": "x"}\n {"text": "y"}]')
    with pytest.raises(InputError, match="expected ',' or ']'") as err:
        read_records(path)
    assert err.value.line == 2
