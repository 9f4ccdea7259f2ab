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
