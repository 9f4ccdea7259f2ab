"""Both languages carry the same keys, none empty; the registry's pages have their titles."""

import re
import tomllib

import pytest

from ui import i18n, registry


def test_same_keys_in_every_language():
    en, zh = i18n.strings("en"), i18n.strings("zh")
    assert sorted(set(en) - set(zh)) == [], "keys missing in zh.toml"
    assert sorted(set(zh) - set(en)) == [], "keys missing in en.toml"


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_no_empty_strings_and_same_placeholders(lang):
    strings = i18n.strings(lang)
    en = i18n.strings("en")
    for key, text in strings.items():
        assert isinstance(text, str) and text.strip(), key
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_chinese_is_chinese():
    """Titles and leads of the Chinese file are written in Chinese, not left in English."""
    zh = i18n.strings("zh")
    for spec in registry.PAGES:
        for part in ("title", "hook", "lead"):
            text = zh[f"{spec.key}.{part}"]
            assert re.search(r"[\u4e00-\u9fff]", text), f"{spec.key}.{part} has no Chinese: {text!r}"


def test_registry_pages_have_texts_and_files():
    for spec in registry.PAGES:
        assert spec.section in registry.SECTIONS
        assert (registry.ROOT / spec.file).exists()
        for lang in i18n.LANGS:
            for part in ("title", "hook", "lead"):
                assert f"{spec.key}.{part}" in i18n.strings(lang)
    keys = [p.key for p in registry.PAGES]
    paths = [p.url_path for p in registry.PAGES]
    assert len(set(keys)) == len(keys) and len(set(paths)) == len(paths)


def test_locale_files_parse_without_duplicate_tables():
    for lang in i18n.LANGS:
        with open(i18n.LOCALE_DIR / f"{lang}.toml", "rb") as f:
            tomllib.load(f)  # a table defined twice (e.g. after a bad merge) raises here


def test_home_does_not_import_torch_altair_or_pandas():
    """Cold start (DESIGN.md: 4 s to the painted home page) must not wait for heavy imports."""
    import subprocess
    import sys

    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({str(registry.ROOT / 'streamlit_app.py')!r}, default_timeout=60); at.run(); "
        "assert not at.exception; print([m for m in ('torch', 'altair', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=registry.ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", "the home page imported a heavy library"


# Chinese typography, terms and markup (issue 23) ------------------------------------------------
# Every check runs on the value as rendered: after TOML parsing, with formulas ($...$), `code`
# and {placeholders} masked out. Parametrised by table, so a failure names the page.
import functools  # noqa: E402

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = HAN + r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u201c\u201d\u2014\u2026"
HALF_WIDTH = r",:;()!?"
GLOSSARY = i18n.LOCALE_DIR / "glossary.toml"


def _mask(text: str) -> str:
    """Formulas, code and placeholders replaced by a neutral ASCII token (so neighbours stay neighbours)."""
    text = re.sub(r"\$\$.+?\$\$|\$[^$\n]+?\$", " MATH ", text, flags=re.S)
    text = re.sub(r"`[^`\n]+`", " CODE ", text)
    return re.sub(r"\{\w*(?:[:!][^}]*)?\}", "X", text)


def _tables(lang: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, text in i18n.strings(lang).items():
        out.setdefault(key.split(".", 1)[0], {})[key] = text
    return out


TABLES = sorted(_tables("zh"))


def stray_spaces(text: str) -> list[str]:
    """Whitespace between two CJK characters (a wrapped line renders as a space); a blank line is a paragraph."""
    return [
        m.group(0) for m in re.finditer(rf"[{CJK}](\s+)[{CJK}]", _mask(text)) if m.group(1).count("\n") < 2
    ]


def half_width_punctuation(text: str) -> list[str]:
    masked = _mask(text)
    return [m.group(0) for m in re.finditer(rf"[{HAN}][{HALF_WIDTH}]|[{HALF_WIDTH}][{HAN}]", masked)]


def ascii_quotes(text: str) -> list[str]:
    masked = _mask(text)
    quoted = [m.group(0) for m in re.finditer(r'"[^"\n]*"', masked) if re.search(rf"[{HAN}]", m.group(0))]
    return quoted or [m.group(0) for m in re.finditer(rf'[{HAN}]"|"[{HAN}]', masked)]


@functools.cache
def glossary() -> list[dict]:
    with open(GLOSSARY, "rb") as f:
        return tomllib.load(f)["term"]


def glossary_variants(zh: str, en: str) -> list[str]:
    masked = _mask(zh)
    hits = []
    for term in glossary():
        if "when_en" in term and not re.search(term["when_en"], en):
            continue
        for pattern in term.get("avoid", []):
            for m in re.finditer(pattern, masked):
                hits.append(f"{m.group(0)!r} -> {term['zh']} ({term['en']})")
    return hits


def markup(text: str) -> tuple[list[str], list[str], int]:
    """The placeholders and LaTeX (as sets: a translation may repeat one less often) and the number of **bold**
    spans: what the translation must keep."""
    placeholders = sorted(set(re.findall(r"\{\w*(?:[:!][^}]*)?\}", re.sub(r"\$[^$\n]+?\$", "", text))))
    latex = sorted({re.sub(r"\s+", "", m) for m in re.findall(r"\$\$.+?\$\$|\$[^$\n]+?\$", text, flags=re.S)})
    return placeholders, latex, text.count("**") // 2


def _violations(check, table: str) -> list[str]:
    zh = _tables("zh")[table]
    return [f"{key}: {hits}" for key, text in zh.items() if (hits := check(text))]


@pytest.mark.parametrize("table", TABLES)
def test_zh_no_space_between_cjk(table):
    bad = _violations(stray_spaces, table)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("table", TABLES)
def test_zh_full_width_punctuation(table):
    bad = _violations(half_width_punctuation, table)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("table", TABLES)
def test_zh_no_ascii_quotes(table):
    bad = _violations(ascii_quotes, table)
    assert not bad, "\n".join(bad)


def italic_chinese(text: str) -> list[str]:
    """*emphasis* around Chinese: Chinese typography has no italics (slanted glyphs read as a rendering fault)."""
    # An opening * followed by a space or punctuation (as in "w* 处", "w*，") opens nothing in
    # CommonMark (it is not left-flanking), so math like w* is not emphasis.
    spans = re.findall(r"(?<!\*)\*(?![\s*，。：；！？、）)])([^*\n]+?)(?<![\s*])\*(?!\*)", _mask(text))
    return [s for s in spans if re.search(rf"[{HAN}]", s)]


@pytest.mark.parametrize("table", TABLES)
def test_zh_no_italic_chinese(table):
    bad = _violations(italic_chinese, table)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("table", TABLES)
def test_zh_glossary_terms(table):
    en = i18n.strings("en")
    zh = _tables("zh")[table]
    bad = [f"{key}: {hits}" for key, text in zh.items() if (hits := glossary_variants(text, en[key]))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("table", TABLES)
def test_zh_keeps_placeholders_latex_and_emphasis(table):
    en = i18n.strings("en")
    zh = _tables("zh")[table]
    bad = [key for key, text in zh.items() if markup(text) != markup(en[key])]
    assert not bad, "\n".join(f"{k}: zh {markup(zh[k])} != en {markup(en[k])}" for k in bad)


@pytest.mark.parametrize("lang", i18n.LANGS)
@pytest.mark.parametrize("table", TABLES)
def test_no_soft_line_breaks(lang, table):
    """One line per paragraph: a line break inside a paragraph renders as a space (a stray one in Chinese)."""
    bad = []
    for key, text in _tables(lang)[table].items():
        for m in re.finditer(r"(?<=\S)\n(?=\S)", text.strip()):
            after = text.strip()[m.end() :]
            # a list item, table row or heading starts a line
            if not re.match(r"([-*+] |\d+\. |\||#)", after):
                bad.append(key)
                break
    assert not bad, (
        f"values wrapped across lines (one line per paragraph, join paragraphs with \\n\\n): {bad}"
    )


def test_glossary_is_well_formed():
    seen = set()
    for term in glossary():
        assert {"en", "zh"} <= set(term) and set(term) <= {"en", "zh", "avoid", "when_en", "note"}, term
        assert term["en"] not in seen, term["en"]
        seen.add(term["en"])
        for pattern in term.get("avoid", []):
            re.compile(pattern)
            assert not re.search(pattern, term["zh"]), f"{term['en']}: {pattern} matches its own term"


@pytest.mark.parametrize(
    "check,text,expected",
    [
        (stray_spaces, "解一个 线性方程组", 1),
        (stray_spaces, "第一段。\n\n第二段", 0),
        (stray_spaces, "偏置 b 与阈值", 0),
        (half_width_punctuation, "步长(1/k²)，见(附录)", 3),
        (half_width_punctuation, "取 $f(x)$，见 `f(x)`", 0),
        (half_width_punctuation, "见 {name}：", 0),
        (ascii_quotes, '所谓"提示"只是类别', 1),
        (ascii_quotes, '`x = "a"`', 0),
        (italic_chinese, "在视频*播放过程中*判断", 1),
        (italic_chinese, "**加粗**与 *GRU*", 0),
        (italic_chinese, "根 w* 处的斜率，(w − w*)·g(w) > 0，都有", 0),
    ],
)
def test_checks_catch_what_they_should(check, text, expected):
    """The checks themselves: each catches a planted defect and leaves formulas and code alone."""
    assert len(check(text)) == expected


@pytest.mark.parametrize(
    "zh,en,expected",
    [
        ("带任务令牌的编码器", "encoder with a task token", 1),
        ("每个词元（token）都有提示词", "each token has a prompt", 0),
        ("最后一个词", "the last token", 1),
        ("提示词与单词", "a word", 0),
        ("自动求导", "autograd", 1),
        ("测试集准确率", "test accuracy", 0),
        ("测试集准确率", "held-out accuracy", 1),
        ("位置多 16 倍", "16 times as many", 1),
        ("是其 16 倍", "16 times as many", 0),
    ],
)
def test_glossary_check_has_no_false_alarms(zh, en, expected):
    assert len(glossary_variants(zh, en)) == expected
