"""The words a customer's name is looked up by: what callers say is a surname or a
given name alone ("林", "美華", "wang"), not a piece of the name from its middle.

A Chinese name is a surname of one character (two for the compound ones below)
followed by the given name: 林美華 is found as 林, as 美華 and as 林美華. A Latin
name splits on spaces and hyphens: "Lin Mei-hua" is found as LIN, MEI, HUA,
MEIHUA and LINMEIHUA. Parts are kept upper-case (NFKC first, so full-width
letters count as the same), and a search term is compared the same way (part_key).
"""

import re
import unicodedata

# Compound (two-character) surnames, the ones met in Taiwan first (張簡, 范姜, 張廖 …).
COMPOUND_SURNAMES = frozenset(
    "歐陽 司馬 諸葛 上官 張簡 范姜 張廖 簡李 東方 司徒 夏侯 皇甫 公孫 慕容 端木 鍾離 尉遲 "
    "長孫 令狐 宇文 南宮 西門 軒轅 呼延 澹臺 公羊 左丘 申屠 太史 聞人 濮陽 淳于 單于 "
    "欧阳 司马 诸葛 张简 钟离 尉迟 长孙 南宫 轩辕 澹台 闻人".split()
)
PART_MAX_LENGTH = 100
# A given name and its surname are split only in a name of personal-name length: a
# longer run of characters (a company's name) is looked up whole.
PERSONAL_NAME_LENGTH = range(2, 5)

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN = re.compile(f"[{_HAN}]+")
# Letters and digits that are not Han characters, one run each.
_OTHER_RUN = re.compile(f"(?:(?![{_HAN}])[^\\W_])+")
_NOT_WORD = re.compile(r"[\W_]+")


def part_key(text):
    """`text` as it is compared with the stored parts: NFKC, upper case, without
    spaces, hyphens or other punctuation ("Mei-hua" → "MEIHUA", "林 美華" → "林美華")."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text or "")).upper()


def has_han(text):
    return _HAN_RUN.search(text or "") is not None


def name_parts(name):
    """The set of parts `name` is found by (see the module docstring)."""
    text = unicodedata.normalize("NFKC", name or "").upper()
    parts = {part_key(text)}
    han_runs = _HAN_RUN.findall(text)
    parts.update(han_runs)
    if len(han_runs) == 1 and len(han_runs[0]) in PERSONAL_NAME_LENGTH:
        run = han_runs[0]
        surname = 2 if run[:2] in COMPOUND_SURNAMES and len(run) > 2 else 1
        parts.update((run[:surname], run[surname:]))
    elif len(han_runs) > 1:
        parts.add("".join(han_runs))  # 林 美華, typed with a space
    for word in text.split():
        runs = _OTHER_RUN.findall(word)
        parts.update(runs)
        if len(runs) > 1:
            parts.add("".join(runs))  # MEI-HUA typed as MEIHUA
    return {part[:PART_MAX_LENGTH] for part in parts if part}
