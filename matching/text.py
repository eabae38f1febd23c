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
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # scikit-learn (1.4 s to import) only where a vectoriser is fitted
    from sklearn.feature_extraction.text import TfidfVectorizer

DATA_DIR = Path(__file__).resolve().parent / "data"
THESAURUS_CSV = DATA_DIR / "thesaurus.csv"
LIST_OF_WASTE_CSV = (
    Path(__file__).resolve().parent.parent / "listings" / "data" / "list_of_waste.csv"
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_POSSESSIVE_RE = re.compile(r"(?<=[A-Za-z])['\u2019](?=s\b)|(?<=s)['\u2019](?=\s|$)")
_ABBREVIATION_RE = re.compile(r"[A-Z]{2,6}")
# In ASCII text, _TOKEN_RE's tokens are what is left when every other byte becomes a space.
_ASCII_SEPARATORS = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "ẞ": "SS", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
     "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"}
)  # fmt: skip


def fold(text: str) -> str:
    """Strip accents and map special letters to ASCII, keeping case ("Gärrest" -> "Garrest")."""
    if text.isascii():  # nothing to translate, decompose or strip
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    if decomposed.isascii():
        return decomposed
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


@functools.lru_cache(maxsize=1 << 16)
def _key(token: str) -> str:
    """The trie key of a token; memoised, since listings keep using the same few thousand words."""
    return _stem(token.lower())


def tokens(text: str) -> list[str]:
    """Accent-folded word tokens with their original case ("brewer's grains" -> brewers, grains)."""
    folded = fold(text)
    if "'" in folded or "\u2019" in folded:  # the possessive pattern needs an apostrophe
        folded = _POSSESSIVE_RE.sub("", folded)
    if folded.isascii():  # the same tokens, twice as fast
        return folded.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    return _TOKEN_RE.findall(folded)


def _keys(text: str) -> tuple[str, ...]:
    return tuple(map(_key, tokens(text)))


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


_MAX_ANSWERS = 1 << 14  # distinct answers concepts_in shares: a bound on the memory
# Part of every stored concepts key (``Thesaurus.concepts_key``): bump it when concepts_in would
# find other concepts in the same text with the same names (its tokens, stemming or scan).
MATCHER_VERSION = 1


class _Node:
    """A trie node: the names that end here, split by whether they need a case check."""

    __slots__ = ("abbreviations", "children", "concepts")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.concepts: tuple[str, ...] = ()  # names that match in any case
        # (capitalised form, concept): matches only where the text writes the form in capitals
        self.abbreviations: tuple[tuple[str, str], ...] = ()


class Thesaurus:
    """Concepts with their names in EN/NL/FR/DE, and a matcher that finds them in free text."""

    def __init__(self, concepts: Iterable[Concept]) -> None:
        self.concepts: dict[str, Concept] = {}
        self._root = _Node()
        # one shared frozenset per distinct answer: texts name few combinations of concepts,
        # and a batch of 100k answers kept alive would otherwise set off garbage collections
        self._answers: dict[frozenset[str], frozenset[str]] = {}
        names = hashlib.blake2b(f"matcher {MATCHER_VERSION}".encode(), digest_size=16)
        for concept in concepts:
            if concept.id in self.concepts:
                raise ValueError(f"duplicate concept {concept.id!r}")
            if not concept.id or any(ch.isspace() for ch in concept.id):
                raise ValueError(f"a concept id is one word: {concept.id!r}")
            self.concepts[concept.id] = concept
            names.update(repr((concept.id, concept.terms)).encode())
            for term in concept.terms:
                for key in _term_keys(term):
                    self._add(key, concept.id, _abbreviation(term))
        self._names_digest = names.digest()  # what concepts_in answers depends on

    def _add(self, key: tuple[str, ...], concept: str, abbreviation: str | None) -> None:
        if not key:
            return
        node = self._root
        for token in key:
            node = node.children.setdefault(token, _Node())
        if abbreviation is None:
            node.concepts = (*node.concepts, concept)
        else:
            node.abbreviations = (*node.abbreviations, (abbreviation, concept))

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
        """Concept ids named in ``text`` (leftmost-longest, non-overlapping matches).

        At each token, the longest name starting there wins and the scan resumes after it; where
        no name starts, the scan moves one token on. A name written in capitals in the thesaurus
        counts only where the text's token starts with those capitals.
        """
        original = tokens(text)
        keys = list(map(_key, original))
        heads = list(map(self._root.children.get, keys))  # a node where a name starts there
        found: set[str] = set()
        resume, n = 0, len(keys)
        for i in itertools.compress(range(n), heads):  # nodes are truthy, None is not
            if i < resume:  # inside the name found last
                continue
            node = heads[i]
            best_end, best = i, ()
            j = i
            while True:
                names = node.concepts
                if node.abbreviations:
                    token = original[j]
                    names += tuple(c for form, c in node.abbreviations if token.startswith(form))
                if names:
                    best_end, best = j + 1, names
                j += 1
                if j == n:
                    break
                node = node.children.get(keys[j])
                if node is None:
                    break
            if best:
                found.update(best)
                resume = best_end
        answer = frozenset(found)
        if len(self._answers) < _MAX_ANSWERS:
            return self._answers.setdefault(answer, answer)
        return self._answers.get(answer, answer)

    def concepts_key(self, text: str) -> str:
        """A key of ``text`` under this thesaurus's names and this matcher: concepts stored
        under the key a text still has are those ``concepts_in`` finds in it."""
        return hashlib.blake2b(text.encode(), digest_size=8, key=self._names_digest).hexdigest()

    def stored_concepts(self, text: str) -> tuple[str, str]:
        """What a listing stores of its words: the ids of the concepts ``text`` names, sorted
        and separated by spaces, and ``concepts_key(text)``."""
        return " ".join(sorted(self.concepts_in(text))), self.concepts_key(text)

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


@dataclass(frozen=True, slots=True)
class _CharNgrams:
    """``TfidfVectorizer(analyzer="char_wb").transform`` for a fitted vectoriser, in NumPy.

    scikit-learn counts n-grams with a Python loop per n-gram (about 190 µs for a listing).
    This does the same over the whole batch in a few array passes, with identical results.

    ``char_wb`` preprocesses a text (``lower()``, then accent stripping), splits it into words
    at whitespace and takes every n-gram of each word padded with one space on both sides,
    ``" " + word + " "``, for n in ``ngram_range``. Its one quirk, that a padded word shorter
    than n is taken once whole, cannot happen here: a padded word has at least three characters
    and n starts at two or three, so the n-grams are exactly the windows of length n that fit.

    A text's counts are the sum of its words' counts, so the n-grams are counted once per
    distinct word of the batch (listings repeat words a lot) and summed per text with one
    sparse product: texts x words times words x features.

    An n-gram is an integer: its characters are digits in base ``base`` (1 to ``base - 1`` for
    the characters in the vocabulary, 0 for any other, which no vocabulary n-gram contains), so
    two n-grams of the same length are equal exactly when their integers are. The vocabulary's
    n-grams of each length are kept as sorted integers, looked up with ``np.searchsorted``.
    """

    preprocess: Callable[[str], str]
    ngram_range: tuple[int, int]
    base: int
    digit_of: np.ndarray  # code point -> digit; the last entry (0) stands for all beyond
    codes: tuple[np.ndarray, ...]  # per n: the sorted integers of the vocabulary's n-grams
    features: tuple[np.ndarray, ...]  # per n: the feature index of each of those integers
    idf: np.ndarray
    n_features: int

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> _CharNgrams | None:
        """The batch transform of a fitted vectoriser, or ``None`` where it cannot apply."""
        min_n, max_n = vectorizer.ngram_range
        if (
            vectorizer.analyzer != "char_wb"
            or vectorizer.preprocessor is not None
            or vectorizer.binary
            or not vectorizer.use_idf
            or not vectorizer.sublinear_tf
            or vectorizer.norm != "l2"
            # below 2, two words would share the space between them; above 3, the quirk
            or not 2 <= min_n <= 3
        ):
            return None
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        alphabet = sorted({ch for gram in vocabulary for ch in gram})
        base = len(alphabet) + 1
        if base**max_n >= 2**63:
            return None  # the integers would overflow: leave it to scikit-learn
        points = np.array([ord(ch) for ch in alphabet], dtype=np.int64)
        digit_of = np.zeros(int(points.max(initial=0)) + 2, dtype=np.int64)
        digit_of[points] = np.arange(1, base)
        digit = dict(zip(alphabet, range(1, base), strict=True))
        codes, features = [], []
        for n in range(min_n, max_n + 1):
            grams = [(g, f) for g, f in vocabulary.items() if len(g) == n]
            values = np.array(
                [
                    functools.reduce(lambda code, ch: code * base + digit[ch], g, 0)
                    for g, _ in grams
                ],
                dtype=np.int64,
            )
            order = np.argsort(values)
            codes.append(values[order])
            features.append(np.array([f for _, f in grams], dtype=np.int64)[order])
        return cls(
            preprocess=vectorizer.build_preprocessor(),
            ngram_range=(min_n, max_n),
            base=base,
            digit_of=digit_of,
            codes=tuple(codes),
            features=tuple(features),
            idf=np.asarray(vectorizer.idf_),
            n_features=len(vocabulary),
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """What the vectoriser's ``transform(texts)`` returns, as a CSR matrix."""
        prepared = list(map(self.preprocess, texts))
        # One split of the whole batch finds the words, with a word that no text contains
        # marking where each text ends (a list of words per text would cost more: 100k live
        # lists set off garbage-collection passes). Words never contain whitespace.
        plain = " ".join(prepared)
        mark = next(c for c in map(chr, itertools.count()) if not c.isspace() and c not in plain)
        occurrences = f" {mark} ".join(prepared).split()
        # each occurrence -> the position of the first occurrence of its word, which numbers
        # the distinct words (dict order is insertion order)
        first_seen: dict[str, int] = {}
        first = np.fromiter(
            map(first_seen.setdefault, occurrences, itertools.count()), np.int64, len(occurrences)
        )
        is_mark = first == first_seen.pop(mark, -1)
        text = np.cumsum(is_mark)[~is_mark]
        text_words = sp.csr_matrix(
            (
                np.ones(text.size, dtype=np.float32),
                first[~is_mark],
                np.concatenate([[0], np.cumsum(np.bincount(text, minlength=len(prepared)))]),
            ),
            shape=(len(prepared), len(occurrences)),
        )
        word_counts = self._word_counts(
            list(first_seen),
            np.fromiter(first_seen.values(), np.int64, len(first_seen)),
            rows=len(occurrences),
        )
        counts = text_words @ word_counts  # float32 sums of small integers: exact
        counts.sort_indices()
        return self._tfidf(counts)

    def _word_counts(self, words: list[str], at: np.ndarray, *, rows: int) -> sp.csr_matrix:
        """``rows`` x features: row ``at[i]`` counts the features of the padded ``words[i]``
        (a feature can appear more than once in a row; products sum them)."""
        line = " " + " ".join(words) + " "
        points = np.frombuffer(line.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        digits = self.digit_of[np.minimum(points, self.digit_of.size - 1)]
        # word i owns the windows starting in " word_i" (its padding space and its characters);
        # a window that runs into the next word has a space inside, so it is no n-gram
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        owner = np.repeat(at, lengths + 1)
        min_n, max_n = self.ngram_range
        # feature[p, n - min_n]: the feature of the window of length n at position p, or -1
        feature = np.full((owner.size, max_n - min_n + 1), -1, dtype=np.int64)
        code = digits
        for n in range(1, max_n + 1):
            if n > 1:  # the integer of the window of length n starting at each position
                code = code[:-1] * self.base + digits[n - 1 :]
            vocabulary = self.codes[n - min_n] if n >= min_n else None
            if vocabulary is None or vocabulary.size == 0:
                continue
            windows = code[: owner.size]
            found = np.minimum(np.searchsorted(vocabulary, windows), vocabulary.size - 1)
            hit = np.flatnonzero(vocabulary[found] == windows)
            feature[hit, n - min_n] = self.features[n - min_n][found[hit]]
        flat = feature.ravel()
        hits = np.flatnonzero(flat >= 0)  # in position order, so grouped by row
        per_row = np.bincount(owner[hits // feature.shape[1]], minlength=rows)
        return sp.csr_matrix(
            (
                np.ones(hits.size, dtype=np.float32),
                flat[hits],
                np.concatenate([[0], np.cumsum(per_row)]),
            ),
            shape=(rows, self.n_features),
        )

    def _tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """``TfidfTransformer(sublinear_tf=True, norm="l2").transform``: the same operations."""
        data = counts.data
        np.log(data, out=data)
        data += 1.0
        data *= self.idf[counts.indices]
        from sklearn.preprocessing import normalize

        return sp.csr_matrix(normalize(counts, norm="l2", copy=False))


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
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            strip_accents="unicode",
            lowercase=True,
            dtype=np.float32,
        )
        self.vectorizer.fit([self._prepare(d) for d in documents] or ["empty"])
        self._ngrams = _CharNgrams.of(self.vectorizer)

    @classmethod
    def default(cls) -> TextSimilarity:
        """Fitted on the List of Waste titles and the thesaurus; built once per process."""
        return _default_similarity()

    def _prepare(self, text: str) -> str:
        text = text or ""
        return self.thesaurus.expand(text) if self.expand else text

    def vectors(self, texts: Iterable[str]) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows, one per text (an empty text gives a zero row)."""
        return self.transform([self._prepare(t) for t in texts])

    def transform(self, prepared_texts: Sequence[str]) -> sp.csr_matrix:
        """``self.vectorizer.transform(prepared_texts)`` as a CSR matrix, computed in NumPy over
        the whole batch (about 10x faster). Texts are taken as they are: expand them first
        (``vectors`` does). An empty batch gives a 0-row matrix, where scikit-learn raises."""
        if isinstance(prepared_texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if len(prepared_texts) == 0:
            return sp.csr_matrix((0, len(self.vectorizer.vocabulary_)), dtype=np.float32)
        if self._ngrams is None:
            return sp.csr_matrix(self.vectorizer.transform(prepared_texts))
        return self._ngrams.transform(prepared_texts)

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
