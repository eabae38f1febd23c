"""Countries and their memberships that decide a cross-border shipment procedure.

Pure data: imports no Django, so the legal procedure (``matching.legal``) and the reference-data
loader share one table.

Sources (checked 2026-11):
- EU members: Treaty on European Union, Art. 52, as amended by the accession treaties
  (27 states since the United Kingdom left on 31 January 2020).
- EEA: Agreement on the European Economic Area (OJ L 1, 3.1.1994): the EU states plus Iceland,
  Liechtenstein and Norway.
- EFTA: Convention establishing the European Free Trade Association: Iceland, Liechtenstein,
  Norway and Switzerland.
- OECD: list of OECD member countries (oecd.org, "Members and partners"), 38 members.
- Basel Convention: status of ratification (basel.int). Every country listed here is a party
  except the United States, which signed but never ratified.
- The United Kingdom is OECD and a Basel party outside the EU; after 31 December 2020 it applies
  its retained version of Regulation (EC) No 1013/2006.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str
    eu: bool
    eea: bool
    efta: bool
    oecd: bool
    basel_party: bool = True

    @property
    def in_eu_or_eea(self) -> bool:
        return self.eu or self.eea


def _eu(code: str, name: str, *, oecd: bool) -> Country:
    return Country(code=code, name=name, eu=True, eea=True, efta=False, oecd=oecd)


_ROWS: tuple[Country, ...] = (
    _eu("AT", "Austria", oecd=True),
    _eu("BE", "Belgium", oecd=True),
    _eu("BG", "Bulgaria", oecd=False),
    _eu("CY", "Cyprus", oecd=False),
    _eu("CZ", "Czechia", oecd=True),
    _eu("DE", "Germany", oecd=True),
    _eu("DK", "Denmark", oecd=True),
    _eu("EE", "Estonia", oecd=True),
    _eu("ES", "Spain", oecd=True),
    _eu("FI", "Finland", oecd=True),
    _eu("FR", "France", oecd=True),
    _eu("GR", "Greece", oecd=True),
    _eu("HR", "Croatia", oecd=False),
    _eu("HU", "Hungary", oecd=True),
    _eu("IE", "Ireland", oecd=True),
    _eu("IT", "Italy", oecd=True),
    _eu("LT", "Lithuania", oecd=True),
    _eu("LU", "Luxembourg", oecd=True),
    _eu("LV", "Latvia", oecd=True),
    _eu("MT", "Malta", oecd=False),
    _eu("NL", "Netherlands", oecd=True),
    _eu("PL", "Poland", oecd=True),
    _eu("PT", "Portugal", oecd=True),
    _eu("RO", "Romania", oecd=False),
    _eu("SE", "Sweden", oecd=True),
    _eu("SI", "Slovenia", oecd=True),
    _eu("SK", "Slovakia", oecd=True),
    Country("IS", "Iceland", eu=False, eea=True, efta=True, oecd=True),
    Country("LI", "Liechtenstein", eu=False, eea=True, efta=True, oecd=False),
    Country("NO", "Norway", eu=False, eea=True, efta=True, oecd=True),
    Country("CH", "Switzerland", eu=False, eea=False, efta=True, oecd=True),
    Country("GB", "United Kingdom", eu=False, eea=False, efta=False, oecd=True),
    Country("US", "United States", eu=False, eea=False, efta=False, oecd=True, basel_party=False),
    Country("CA", "Canada", eu=False, eea=False, efta=False, oecd=True),
    Country("JP", "Japan", eu=False, eea=False, efta=False, oecd=True),
    Country("KR", "Korea, Republic of", eu=False, eea=False, efta=False, oecd=True),
    Country("AU", "Australia", eu=False, eea=False, efta=False, oecd=True),
    Country("NZ", "New Zealand", eu=False, eea=False, efta=False, oecd=True),
    Country("MX", "Mexico", eu=False, eea=False, efta=False, oecd=True),
    Country("CL", "Chile", eu=False, eea=False, efta=False, oecd=True),
    Country("CO", "Colombia", eu=False, eea=False, efta=False, oecd=True),
    Country("CR", "Costa Rica", eu=False, eea=False, efta=False, oecd=True),
    Country("IL", "Israel", eu=False, eea=False, efta=False, oecd=True),
    Country("TR", "Türkiye", eu=False, eea=False, efta=False, oecd=True),
    Country("MA", "Morocco", eu=False, eea=False, efta=False, oecd=False),
    Country("CN", "China", eu=False, eea=False, efta=False, oecd=False),
    Country("IN", "India", eu=False, eea=False, efta=False, oecd=False),
    Country("UA", "Ukraine", eu=False, eea=False, efta=False, oecd=False),
)

COUNTRIES: dict[str, Country] = {c.code: c for c in _ROWS}
