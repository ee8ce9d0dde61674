"""common.text: how a person is named, and the punctuation between translated pieces."""

import pytest
from django.contrib.auth.models import User
from django.template import Context, Template
from django.utils import translation

from common.text import bracketed, joined_clauses, labelled, person_name


@pytest.mark.parametrize(
    "first, last, shown",
    [
        ("小明", "王", "王小明"),  # a Chinese name: family name first, no space
        ("Wei", "Huang", "Wei Huang"),
        ("Wei", "黃", "黃Wei"),  # any Chinese in the name takes the Chinese order
        ("小明", "", "小明"),
        ("", "王", "王"),
        ("  ", " ", "wang01"),  # only spaces: no name, the login
        ("", "", "wang01"),
    ],
)
def test_person_name(first, last, shown):
    assert person_name(User(username="wang01", first_name=first, last_name=last)) == shown


def test_the_system_has_no_name_so_callers_use_their_word_for_it():
    assert person_name(None) == ""
    with translation.override("zh-hant"):
        page = Template('{% load i18n people %}{{ who|person|default:_("system") }}').render(Context({"who": None}))
    assert page == "系統"


def test_the_template_filter_escapes_the_name():
    user = User(username="x", first_name="<b>", last_name="Lee")
    assert Template("{% load people %}{{ user|person }}").render(Context({"user": user})) == "&lt;b&gt; Lee"


def test_pieces_put_together_in_english_and_in_chinese():
    with translation.override("en"):
        assert labelled("Reserved in TXG", "2 × TEA") == "Reserved in TXG: 2 × TEA"
        assert bracketed("Scanned TEA", 3) == "Scanned TEA (3)"
        assert joined_clauses(["TPE short of A", "TXG short of B"]) == "TPE short of A; TXG short of B"
    with translation.override("zh-hant"):
        assert labelled("已於 TXG 預留", "2 × TEA") == "已於 TXG 預留：2 × TEA"
        assert bracketed("已掃描 TEA", 3) == "已掃描 TEA（3）"
        assert joined_clauses(["甲", "乙"]) == "甲；乙"
