"""The interface speaks English, French, Dutch and German.

- every message of locale/{fr,nl,de}/LC_MESSAGES/django.po has a translation, none fuzzy, with
  the same placeholders as the English;
- the committed .mo files are compiled from the current .po files (the runtime and CI need no
  gettext: nothing here compiles);
- every literal {% translate %} of the templates and every one-literal gettext call of the apps
  is in the catalogues, so a string added after the last `makemessages` fails here;
- pages under a language prefix (/fr/, /nl/, /de/), where the language switcher leads, render
  translated strings. Unprefixed URLs are English: i18n_patterns(prefix_default_language=False)
  makes LocaleMiddleware ignore Accept-Language there, so the header alone changes nothing.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from harbors.models import HarborRegion
from tests.factories import MembershipFactory, SiteFactory, UserFactory

ROOT = Path(settings.BASE_DIR)
LOCALE = Path(settings.LOCALE_PATHS[0])
LANGUAGES = ("fr", "nl", "de")
PLACEHOLDER = re.compile(r"%\((\w+)\)[-+ #0]*\d*(?:\.\d+)?[sdfir]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def read_po(path: Path) -> list[Entry]:
    """The live entries of a .po file (not the header, not obsolete #~ ones). A small reader:
    the project does not depend on polib or on gettext's tools."""
    entries: list[Entry] = []
    entry, key = Entry(), None

    def close() -> None:
        nonlocal entry, key
        if entry.msgid or entry.msgstr:
            entries.append(entry)
        entry, key = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            close()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if key == "msgid":
                entry.msgid += value
            elif key == "msgid_plural":
                entry.msgid_plural += value
            elif key == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + value
            else:
                entry.msgstr[int(key)] += value
        else:
            keyword, _, rest = line.partition(" ")
            value = ast.literal_eval(rest)
            entry.line = entry.line or number
            if keyword in {"msgid", "msgid_plural", "msgctxt"}:
                key = keyword
                setattr(entry, keyword, value)
            else:  # msgstr or msgstr[n]
                index = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
                assert index is not None, f"{path}:{number}: cannot read {line!r}"
                key = index.group(1) or "0"
                entry.msgstr[int(key)] = value
    close()
    return [e for e in entries if e.msgid]


def _po(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module", params=LANGUAGES)
def catalogue(request: pytest.FixtureRequest) -> tuple[str, list[Entry]]:
    path = _po(request.param)
    assert path.is_file(), f"{path} is missing: run makemessages (README, Translations)"
    return request.param, read_po(path)


def test_every_message_is_translated_and_none_is_fuzzy(catalogue) -> None:
    language, entries = catalogue
    assert len(entries) > 300  # the whole interface, not a stub
    untranslated = [e.msgid for e in entries if not e.msgstr or not all(e.msgstr.values())]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == [], f"{language}: {len(untranslated)} untranslated: {untranslated}"
    assert fuzzy == [], f"{language}: {len(fuzzy)} fuzzy: {fuzzy}"


def test_translations_keep_the_placeholders(catalogue) -> None:
    language, entries = catalogue
    wrong = []
    for e in entries:
        for form, text in e.msgstr.items():
            english = e.msgid_plural if e.msgid_plural and form > 0 else e.msgid
            if set(PLACEHOLDER.findall(english)) != set(PLACEHOLDER.findall(text)):
                wrong.append((e.msgid, text))
    assert wrong == [], f"{language}: placeholders differ: {wrong}"


def test_compiled_catalogue_matches_the_po_file(catalogue) -> None:
    """The committed .mo is compiled from the current .po (`manage.py compilemessages`)."""
    language, entries = catalogue
    mo = _po(language).with_suffix(".mo")
    assert mo.is_file(), f"{mo} is missing: run compilemessages and commit it"
    with mo.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = []
    for e in entries:
        if e.msgid_plural:
            got = compiled.ngettext(e.msgid, e.msgid_plural, 1)
            expected = e.msgstr[0]
        elif e.msgctxt is not None:
            got, expected = compiled.pgettext(e.msgctxt, e.msgid), e.msgstr[0]
        else:
            got, expected = compiled.gettext(e.msgid), e.msgstr[0]
        if got != expected:
            stale.append(e.msgid)
    assert stale == [], f"{mo} is older than the .po file for {stale}"


TEMPLATE_TAG = re.compile(r"""{%\s*(?:translate|trans)\s+(?:"([^"]*)"|'([^']*)')""")
PYTHON_CALL = re.compile(
    r"""\b(?:_|gettext|gettext_lazy)\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')\s*\)"""
)


def _source_strings() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "templates").rglob("*.html"):
        for match in TEMPLATE_TAG.finditer(path.read_text(encoding="utf-8")):
            found.add((str(path.relative_to(ROOT)), match.group(1) or match.group(2)))
    for app in ("listings", "matching", "harbors", "symbiosis"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for match in PYTHON_CALL.finditer(path.read_text(encoding="utf-8")):
                literal = match.group(0)[match.group(0).index("(") + 1 : -1].strip()
                found.add((str(path.relative_to(ROOT)), ast.literal_eval(literal)))
    return found


def test_catalogues_hold_every_string_of_the_sources() -> None:
    """A string added to a template or app since the last makemessages fails here."""
    msgids = {e.msgid for e in read_po(_po("fr"))}
    missing = sorted((where, text) for where, text in _source_strings() if text not in msgids)
    assert missing == [], (
        "not in the catalogues; run manage.py makemessages -l fr -l nl -l de "
        f"--ignore='.venv/*' --ignore='var/*', translate, compilemessages: {missing}"
    )


# --- pages --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english_between_tests() -> Iterator[None]:
    """The test client runs the request in this thread, and LocaleMiddleware leaves the page's
    language active afterwards: reverse() would then build /fr/… URLs in later tests."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "fr",
            ["Des matières premières secondaires", "Se connecter", "Inscrivez votre organisation"],
        ),
        ("nl", ["Secundaire grondstoffen", "Inloggen", "Registreer uw organisatie"]),
        ("de", ["Sekundärrohstoffe", "Anmelden", "Organisation registrieren"]),
    ],
)
def test_home_page_under_a_language_prefix(client, db, language: str, words: list[str]) -> None:
    response = client.get(f"/{language}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    for word in words:
        assert word in page
    assert response["Content-Language"] == language


def test_unprefixed_pages_stay_english_whatever_the_browser_asks(client, db) -> None:
    page = client.get("/", headers={"accept-language": "de"}).content.decode()
    assert '<html lang="en">' in page
    assert "Log in" in page


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Tableau de bord", "Nouvelle offre", "Nouvelle demande", "Correspondances"]),
        ("nl", ["Nieuw aanbod", "Nieuwe vraag", "Uitloggen"]),
        ("de", ["Übersicht", "Neues Angebot", "Neue Nachfrage", "Abmelden"]),
    ],
)
def test_company_dashboard_is_translated(client, db, language: str, words: list[str]) -> None:
    member = MembershipFactory()
    SiteFactory(organization=member.organization)
    client.force_login(member.user)
    response = client.get(f"/{language}" + reverse("listings:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    for word in words:
        assert word in page


@pytest.mark.parametrize(
    ("language", "title", "form_words"),
    [
        ("fr", "Nouvelle offre", ["Code de la liste des déchets", "Enregistrer et publier"]),
        ("nl", "Nieuw aanbod", ["Euralcode", "Opslaan en publiceren"]),
        ("de", "Neues Angebot", ["Abfallschlüssel", "Speichern und veröffentlichen"]),
    ],
)
def test_offer_form_is_translated(
    client, db, language: str, title: str, form_words: list[str]
) -> None:
    member = MembershipFactory()
    SiteFactory(organization=member.organization)
    client.force_login(member.user)
    page = client.get(f"/{language}" + reverse("listings:offer-create")).content.decode()
    assert f"<h1>{title}</h1>" in page
    for word in form_words:
        assert word in page


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("fr", "File des correspondances"),
        ("nl", "Wachtrij van matches"),
        ("de", "Treffer-Warteschlange"),
    ],
)
def test_facilitator_queue_is_translated(client, db, language: str, heading: str) -> None:
    facilitator = UserFactory(username="fac")
    HarborRegion.objects.get(code="rotterdam-moerdijk").facilitators.add(facilitator)
    client.force_login(facilitator)
    response = client.get(f"/{language}" + reverse("facilitate:queue"))
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in response.content.decode()


def test_language_switcher_leads_to_the_prefixed_page(client, db) -> None:
    response = client.post(
        reverse("set_language"), {"language": "nl", "next": reverse("listings:dashboard")}
    )
    assert response.status_code == 302
    assert response["Location"] == "/nl" + reverse("listings:dashboard")
