"""One escaping rule per output kind (escape.py), each tested against the corpus of
hostile strings the browser test renders (incidents.HOSTILE)."""
import json

import mistune
import pytest

from rovn_ops.core import escape, plaintext
from rovn_sandbox.incidents import HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_html_leaves_no_tag_and_no_attribute_break(value):
    out = escape.html(value)
    assert "<" not in out and ">" not in out and '"' not in out and "'" not in out


@pytest.mark.parametrize("value", [*HOSTILE, {"k": list(HOSTILE)}, ["</script>", "<!--", "\u2028"]])
def test_script_json_cannot_end_or_bend_a_script_and_round_trips(value):
    out = escape.script_json(value)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in out
    assert json.loads(out) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_renders_as_the_same_text_with_no_tag_link_heading_or_row(value):
    cell = escape.markdown(value)
    html = mistune.html(f"| a |\n|---|\n| {cell} |\n\n- {cell}\n")
    assert "<img" not in html and "<svg" not in html and "<script" not in html and "<a " not in html
    assert "<h1" not in html and "<strong" not in html and "<em" not in html and html.count("<td>") == 1
    assert "\x1b" not in cell and "\n" not in cell


def test_markdown_plain_text_undoes_the_escaping():
    assert plaintext.from_markdown(f"- {escape.markdown('a_b | <c> **d**')}") == "- a_b | <c> **d**"


def test_a_code_span_cannot_be_closed():
    out = escape.code("x` <img src=x onerror=1> `y")
    assert "`" not in out
    html = mistune.html(f"`{out}`")
    assert "<img" not in html


def test_terminal_shows_control_characters_instead_of_obeying_them():
    out = escape.terminal("ok\x1b[31mred\x1b[0m\x07\r\x9b2J\u202e")
    assert out == "ok\\x1b[31mred\\x1b[0m\\x07\\r\\x9b2J\\u202e"
    assert escape.terminal("tab\tand plain text") == "tab\tand plain text"


def test_intraword_underscores_stay_readable():
    assert escape.markdown("service_status") == "service_status"  # GFM: no emphasis inside a word
    assert escape.markdown("_x_") == "\\_x\\_"
