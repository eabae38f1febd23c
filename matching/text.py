"""Material text matching: a curated thesaurus plus character n-gram TF-IDF.

Pure module: the standard library, NumPy, SciPy and scikit-learn only. No Django, no database.
It reads its two data files once (``matching/data/thesaurus.csv`` and, when present,
``listings/data/list_of_waste.csv``) and keeps the fitted objects in memory.

Companies name the same stuff differently ("incinerator bottom ash" and "IBA", "used cooking
oil" and "UCO", "bodemas", "mâchefer", "Rostasche"). Two tools deal with that:

* :class:`Thesaurus` finds the *concepts* a text names. Matching works on word tokens after
  folding accents and case, so it respects word boundaries ("IBA" is never found inside
  "fibre"), handles multi-word names and simple plurals ("tyres", "mâchefers"), and prefers the
  longest name at each position ("incinerator bottom ash" wins over "bottom ash"). Names written
  in capitals in the thesaurus (IBA, UCO, FOG, RAP) are abbreviations and match only when the
  text also writes them in capitals, so the words "fog" or "rap" never trigger a concept.
* :class:`TextSimilarity` wraps ``TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
  sublinear_tf=True)``. Before vectorising, each text is *expanded* with the canonical names of
  the concepts found in it, so "UCO" and "used cooking oil" end up with nearly the same vector.
  Character n-grams also catch spelling variants, compounds and inflections the thesaurus does
  not list.

The test ``tests/matching/test_text.py`` measures this choice against a plain bag-of-words
cosine on a labelled set of pairs.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

DATA_DIR = Path(__file__).resolve().parent / "data"
THESAURUS_CSV = DATA_DIR / "thesaurus.csv"
LIST_OF_WASTE_CSV = (
    Path(__file__).resolve().parent.parent / "listings" / "data" / "list_of_waste.csv"
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_POSSESSIVE_RE = re.compile(r"(?<=[A-Za-z])['\u2019](?=s\b)|(?<=s)['\u2019](?=\s|$)")
_ABBREVIATION_RE = re.compile(r"[A-Z]{2,6}")
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "ẞ": "SS", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
     "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"}
)  # fmt: skip


def fold(text: str) -> str:
    """Strip accents and map special letters to ASCII, keeping case ("Gärrest" -> "Garrest")."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(token: str) -> str:
    """A light inflection stemmer for EN/NL/FR/DE tokens, applied to text and names alike.

    It only has to map the singular and plural (and French feminine) forms of a word to the same
    key, because names and texts go through it the same way: "ashes"/"ash", "tyres"/"tyre",
    "mâchefers"/"mâchefer", "usagées"/"usagé", "Flugaschen"/"Flugasche", "Gärreste"/"Gärrest",
    "slurries"/"slurry". Tokens of three letters or fewer (abbreviations) are left alone.
    """
    if not token.isalpha() or len(token) <= 3:
        return token
    if token.endswith("ies"):
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    while token.endswith("e") and len(token) > 3:
        token = token[:-1]
    if token.endswith("en") and len(token) > 5:
        token = token[:-2]
    if token.endswith("y") and len(token) > 3:
        token = token[:-1] + "i"
    return token


def tokens(text: str) -> list[str]:
    """Accent-folded word tokens with their original case ("brewer's grains" -> brewers, grains)."""
    return _TOKEN_RE.findall(_POSSESSIVE_RE.sub("", fold(text)))


def _keys(text: str) -> tuple[str, ...]:
    return tuple(_stem(t.lower()) for t in tokens(text))


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    category: str
    terms: tuple[str, ...]
    uses: tuple[str, ...]
    source: str

    @property
    def name(self) -> str:
        """The canonical English name: the first term."""
        return self.terms[0]


@dataclass(frozen=True, slots=True)
class _Entry:
    concept: str
    abbreviation: str | None  # the capitalised form when the name must match case-sensitively


class Thesaurus:
    """Concepts with their names in EN/NL/FR/DE, and a matcher that finds them in free text."""

    def __init__(self, concepts: Iterable[Concept]) -> None:
        self.concepts: dict[str, Concept] = {}
        self._trie: dict[str, dict] = {}
        for concept in concepts:
            if concept.id in self.concepts:
                raise ValueError(f"duplicate concept {concept.id!r}")
            self.concepts[concept.id] = concept
            for term in concept.terms:
                for key in _term_keys(term):
                    self._add(key, _Entry(concept.id, _abbreviation(term)))

    def _add(self, key: tuple[str, ...], entry: _Entry) -> None:
        if not key:
            return
        node = self._trie
        for token in key:
            node = node.setdefault(token, {})
        node.setdefault("", []).append(entry)  # "" never collides with a token

    @classmethod
    def from_csv(cls, path: Path = THESAURUS_CSV) -> Thesaurus:
        """Read the file: ``#`` comment lines, then ``concept,category,terms,uses,source``."""
        with path.open(encoding="utf-8", newline="") as handle:
            lines = [line for line in handle if not line.lstrip().startswith("#")]
        return cls(
            Concept(
                id=row["concept"].strip(),
                category=row["category"].strip(),
                terms=_split(row["terms"]),
                uses=_split(row["uses"]),
                source=row["source"].strip(),
            )
            for row in csv.DictReader(lines)
        )

    @classmethod
    def default(cls) -> Thesaurus:
        """The project's thesaurus, read once per process."""
        return _default_thesaurus()

    def concepts_in(self, text: str) -> frozenset[str]:
        """Concept ids named in ``text`` (leftmost-longest, non-overlapping matches)."""
        return frozenset(entry.concept for entry in self._matches(text))

    def _matches(self, text: str) -> list[_Entry]:
        original = tokens(text)
        keys = [_stem(t.lower()) for t in original]
        found: list[_Entry] = []
        i = 0
        while i < len(keys):
            end, entries = self._longest_at(i, keys, original)
            if entries:
                found.extend(entries)
                i = end
            else:
                i += 1
        return found

    def _longest_at(
        self, start: int, keys: list[str], original: list[str]
    ) -> tuple[int, list[_Entry]]:
        node = self._trie
        best_end, best = start, []
        for j in range(start, len(keys)):
            node = node.get(keys[j])
            if node is None:
                break
            entries = [
                e
                for e in node.get("", ())
                if e.abbreviation is None or original[j].startswith(e.abbreviation)
            ]
            if entries:
                best_end, best = j + 1, entries
        return best_end, best

    def category_for_concept(self, concept: str) -> str:
        """The category slug of a concept (``KeyError`` for an unknown concept)."""
        return self.concepts[concept].category

    def name(self, concept: str) -> str:
        return self.concepts[concept].name

    def expand(self, text: str) -> str:
        """``text`` followed by the canonical names of the concepts it names, sorted by id."""
        found = sorted(self.concepts_in(text))
        if not found:
            return text
        return " ".join([text, *(self.concepts[c].name for c in found)])

    def documents(self) -> list[str]:
        """One document per concept (all its names and uses), e.g. to fit a vectoriser."""
        return [" ".join([*c.terms, *c.uses]) for c in self.concepts.values()]


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split("|") if part.strip())


def _abbreviation(term: str) -> str | None:
    term = term.strip()
    return term if _ABBREVIATION_RE.fullmatch(term) else None


def _term_keys(term: str) -> set[tuple[str, ...]]:
    keys = {_keys(term)}
    if "-" in term:  # "by-product" also matches "byproduct", "REA-Gips" also "REAGips"
        keys.add(_keys(term.replace("-", "")))
    return keys


@functools.lru_cache(maxsize=1)
def _default_thesaurus() -> Thesaurus:
    return Thesaurus.from_csv()


def load_low_titles(path: Path = LIST_OF_WASTE_CSV) -> list[str]:
    """Titles of the List of Waste from the project's own table (empty if the file is absent)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.lstrip().startswith("#")]
    rows = csv.DictReader(lines)
    column = next(
        (c for c in ("title", "description", "name") if c in (rows.fieldnames or ())), None
    )
    if column is None:
        return []
    return [row[column] for row in rows if row.get(column)]


Rows = Sequence[str] | sp.spmatrix | sp.sparray


class TextSimilarity:
    """Cosine similarity of thesaurus-expanded texts under character n-gram TF-IDF.

    The vectoriser is fitted on the List of Waste titles, one document per thesaurus concept and
    any ``corpus`` texts given (e.g. the current listing descriptions). Fit once, then call
    :meth:`vectors` for each batch and compare with :meth:`pairwise` or :meth:`matrix`.
    """

    def __init__(
        self,
        corpus: Iterable[str] = (),
        *,
        thesaurus: Thesaurus | None = None,
        low_titles: Iterable[str] | None = None,
        expand: bool = True,
    ) -> None:
        self.thesaurus = thesaurus if thesaurus is not None else Thesaurus.default()
        self.expand = expand
        titles = load_low_titles() if low_titles is None else list(low_titles)
        documents = [*titles, *self.thesaurus.documents(), *corpus]
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            strip_accents="unicode",
            lowercase=True,
            dtype=np.float32,
        )
        self.vectorizer.fit([self._prepare(d) for d in documents] or ["empty"])

    @classmethod
    def default(cls) -> TextSimilarity:
        """Fitted on the List of Waste titles and the thesaurus; built once per process."""
        return _default_similarity()

    def _prepare(self, text: str) -> str:
        text = text or ""
        return self.thesaurus.expand(text) if self.expand else text

    def vectors(self, texts: Iterable[str]) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows, one per text (an empty text gives a zero row)."""
        return sp.csr_matrix(self.vectorizer.transform([self._prepare(t) for t in texts]))

    def _rows(self, rows: Rows) -> sp.csr_matrix:
        if isinstance(rows, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if sp.issparse(rows):
            return sp.csr_matrix(rows)
        return self.vectors(rows)

    def pairwise(self, a_rows: Rows, b_rows: Rows) -> np.ndarray:
        """Cosine of aligned pairs: ``result[i] = cos(a[i], b[i])``, in [0, 1]."""
        a, b = self._rows(a_rows), self._rows(b_rows)
        if a.shape != b.shape:
            raise ValueError(f"pairwise needs aligned rows, got {a.shape} and {b.shape}")
        cos = np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).ravel()
        return np.clip(cos, 0.0, 1.0)

    def matrix(self, a: Rows, b: Rows) -> np.ndarray:
        """N x M cosine matrix between two batches of texts (or precomputed vectors)."""
        product = self._rows(a) @ self._rows(b).T
        return np.clip(np.asarray(product.toarray(), dtype=np.float64), 0.0, 1.0)

    def similarity(self, a: str, b: str) -> float:
        return float(self.pairwise([a], [b])[0])


@functools.lru_cache(maxsize=1)
def _default_similarity() -> TextSimilarity:
    return TextSimilarity()
