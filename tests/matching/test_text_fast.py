"""The fast text featurisation gives exactly what the straightforward one gives (pure, no DB).

``TextSimilarity.transform`` must equal scikit-learn's ``vectorizer.transform`` (same shape,
sparsity pattern and index order, values to float32 rounding), and ``Thesaurus.concepts_in``
must equal the reference matcher below: the algorithm as first written, kept here verbatim as
the oracle. Both are checked on the thesaurus, the List of Waste titles, the quality set, texts
like the benchmark's and arbitrary Unicode text.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.bench import _texts
from matching.synthetic import STREAMS
from matching.text import (
    TextSimilarity,
    Thesaurus,
    _abbreviation,
    _CharNgrams,
    load_low_titles,
)

QUALITY_LISTINGS = Path(__file__).resolve().parents[2] / "matching/data/quality_set/listings.csv"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# The oracle: the concept matcher as first written (matching/text.py before the fast path).
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_POSSESSIVE_RE = re.compile(r"(?<=[A-Za-z])['\u2019](?=s\b)|(?<=s)['\u2019](?=\s|$)")
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "ẞ": "SS", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
     "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"}
)  # fmt: skip


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(token: str) -> str:
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


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(_POSSESSIVE_RE.sub("", _fold(text)))


def _keys(text: str) -> tuple[str, ...]:
    return tuple(_stem(t.lower()) for t in _tokens(text))


class ReferenceMatcher:
    """Leftmost-longest matching over a dict trie, one list of (concept, abbreviation) a node."""

    def __init__(self, thesaurus: Thesaurus) -> None:
        self.trie: dict = {}
        for concept in thesaurus.concepts.values():
            for term in concept.terms:
                keys = {_keys(term)}
                if "-" in term:
                    keys.add(_keys(term.replace("-", "")))
                for key in keys:
                    if not key:
                        continue
                    node = self.trie
                    for token in key:
                        node = node.setdefault(token, {})
                    node.setdefault("", []).append((concept.id, _abbreviation(term)))

    def concepts_in(self, text: str) -> frozenset[str]:
        original = _tokens(text)
        keys = [_stem(t.lower()) for t in original]
        found: list[tuple[str, str | None]] = []
        i = 0
        while i < len(keys):
            end, entries = self._longest_at(i, keys, original)
            if entries:
                found.extend(entries)
                i = end
            else:
                i += 1
        return frozenset(concept for concept, _ in found)

    def _longest_at(self, start: int, keys: list[str], original: list[str]) -> tuple[int, list]:
        node = self.trie
        best_end, best = start, []
        for j in range(start, len(keys)):
            node = node.get(keys[j])
            if node is None:
                break
            entries = [e for e in node.get("", ()) if e[1] is None or original[j].startswith(e[1])]
            if entries:
                best_end, best = j + 1, entries
        return best_end, best


# --------------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thesaurus() -> Thesaurus:
    return Thesaurus.default()


@pytest.fixture(scope="module")
def reference(thesaurus: Thesaurus) -> ReferenceMatcher:
    return ReferenceMatcher(thesaurus)


@pytest.fixture(scope="module")
def similarity() -> TextSimilarity:
    return TextSimilarity.default()


def _quality_set_texts() -> list[str]:
    with QUALITY_LISTINGS.open(encoding="utf-8", newline="") as handle:
        return [f"{row['title']}. {row['description']}" for row in csv.DictReader(handle)]


def _bench_texts(n: int, seed: int) -> list[str]:
    """Listing texts as ``matching.bench.generate_listings`` writes them."""
    rng = np.random.default_rng(seed)
    weights = np.array([s.weight for s in STREAMS])
    kinds = rng.choice(len(STREAMS), size=n, p=weights / weights.sum())
    ids = np.arange(1, n + 1)
    median = np.array([s.median for s in STREAMS])[kinds]
    annual = np.round(median * rng.lognormal(0.0, 1.0, n), 3) + 0.001
    titles, descriptions = _texts(rng, kinds, ids, annual)
    return [f"{t}. {d}" for t, d in zip(titles, descriptions, strict=True)]


def _thesaurus_texts(thesaurus: Thesaurus) -> list[str]:
    names = [t for c in thesaurus.concepts.values() for t in (*c.terms, *c.uses)]
    return [
        *thesaurus.documents(),
        *names,
        *(n.upper() for n in names),
        *(n.lower() for n in names),
        *(f"{n}s and {n}'s {n}-{n}" for n in names),
        *(f"{n}\u2019s {n.replace(chr(39), chr(0x2019))}" for n in names),
        *(n.replace(" ", "_") for n in names),
        *(n.replace(" ", "/") for n in names),
    ]


def _corpus(thesaurus: Thesaurus) -> list[str]:
    return [
        *_thesaurus_texts(thesaurus),
        *load_low_titles(),
        *_quality_set_texts(),
        *_bench_texts(2000, seed=11),
    ]


def _prepared(thesaurus: Thesaurus, texts: list[str]) -> list[str]:
    """Each text followed by its concepts' canonical names, as candidates.text_vectors does."""
    prepared = []
    for text in texts:
        names = [thesaurus.concepts[c].name for c in sorted(thesaurus.concepts_in(text))]
        prepared.append(" ".join([text, *names]) if names else text)
    return prepared


# --------------------------------------------------------------------------------------------
# TF-IDF
# --------------------------------------------------------------------------------------------


def _assert_same_rows(fast: sp.csr_matrix, slow: sp.spmatrix) -> None:
    assert isinstance(fast, sp.csr_matrix)
    slow = sp.csr_matrix(slow)
    assert fast.shape == slow.shape
    assert fast.dtype == slow.dtype == np.float32
    assert fast.has_sorted_indices
    np.testing.assert_array_equal(fast.indptr, slow.indptr)
    np.testing.assert_array_equal(fast.indices, slow.indices)
    assert fast.indices.dtype == slow.indices.dtype
    np.testing.assert_allclose(fast.data, slow.data, rtol=1e-5)


def test_transform_uses_the_batch_path(similarity: TextSimilarity) -> None:
    assert similarity._ngrams is not None  # else every other test here compares sklearn to itself


def test_transform_equals_sklearn_on_thesaurus_and_list_of_waste(
    similarity: TextSimilarity, thesaurus: Thesaurus
) -> None:
    texts = [*_thesaurus_texts(thesaurus), *load_low_titles()]
    assert len(texts) > 1000
    _assert_same_rows(similarity.transform(texts), similarity.vectorizer.transform(texts))
    prepared = _prepared(thesaurus, texts)
    _assert_same_rows(similarity.transform(prepared), similarity.vectorizer.transform(prepared))


def test_transform_equals_sklearn_on_quality_set(
    similarity: TextSimilarity, thesaurus: Thesaurus
) -> None:
    prepared = _prepared(thesaurus, _quality_set_texts())
    _assert_same_rows(similarity.transform(prepared), similarity.vectorizer.transform(prepared))


def test_transform_equals_sklearn_on_bench_texts(
    similarity: TextSimilarity, thesaurus: Thesaurus
) -> None:
    prepared = _prepared(thesaurus, _bench_texts(3000, seed=5))
    _assert_same_rows(similarity.transform(prepared), similarity.vectorizer.transform(prepared))


def test_transform_row_by_row_equals_batch(similarity: TextSimilarity) -> None:
    """A row does not depend on the other texts of its batch (shared words, marks, order)."""
    texts = _bench_texts(50, seed=3)
    batch = similarity.transform(texts)
    for n, text in enumerate(texts):
        _assert_same_rows(similarity.transform([text]), batch[n])


def test_transform_edge_cases(similarity: TextSimilarity) -> None:
    n_features = len(similarity.vectorizer.vocabulary_)
    empty = similarity.transform([])
    assert empty.shape == (0, n_features)
    assert empty.nnz == 0
    texts = ["", " ", "\t\n", "a", "ab", "x\x00y \x00", "\x00", "ash  ash\t\tash", "ÀSH", "ß"]
    fast = similarity.transform(texts)
    _assert_same_rows(fast, similarity.vectorizer.transform(texts))
    assert fast[:3].nnz == 0  # an empty text gives a zero row
    with pytest.raises(TypeError):
        similarity.transform("fly ash")


def test_vectors_equal_sklearn_on_expanded_texts(similarity: TextSimilarity) -> None:
    texts = ["IBA", "used cooking oil", "", "Mâchefers d'incinération", *_bench_texts(20, seed=1)]
    slow = similarity.vectorizer.transform([similarity._prepare(t) for t in texts])
    _assert_same_rows(similarity.vectors(texts), slow)


words = st.sampled_from(
    ["ash", "IBA", "fly", "a", "ab", "ß", "Straße", "é", "e\u0301", "Œuvre", "İ", "ﬁne", "🙂",
     "x🙂y", "42", "0,5", "t/a", "(dry)", "brewers'", "’s", "brewer’s grains", "-", ".", "\x00",
     "\u2028"]
)  # fmt: skip
gaps = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "", ". ", "_", "/"])
mixed = st.lists(st.tuples(words, gaps), max_size=12).map(lambda p: "".join(a + b for a, b in p))
any_text = st.one_of(st.text(max_size=40), mixed, st.just(""))


@SETTINGS
@given(st.lists(any_text, min_size=1, max_size=8))
def test_transform_equals_sklearn_on_any_text(texts: list[str]) -> None:
    similarity = TextSimilarity.default()
    _assert_same_rows(similarity.transform(texts), similarity.vectorizer.transform(texts))


@SETTINGS
@given(st.lists(any_text, min_size=1, max_size=6), st.sampled_from([(2, 4), (3, 3), (2, 2)]))
def test_batch_ngrams_equal_sklearn_for_other_ranges(
    texts: list[str], ngram_range: tuple[int, int]
) -> None:
    vectorizer = _fitted(ngram_range)
    ngrams = _CharNgrams.of(vectorizer)
    assert ngrams is not None
    _assert_same_rows(ngrams.transform(texts), vectorizer.transform(texts))


def _fitted(ngram_range: tuple[int, int]) -> TfidfVectorizer:
    if ngram_range not in _FITTED:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            sublinear_tf=True,
            strip_accents="unicode",
            lowercase=True,
            dtype=np.float32,
        )
        _FITTED[ngram_range] = vectorizer.fit(
            [*load_low_titles()[:200], "Straße ß 🙂 x🙂y a ab 42 t/a", "İ ﬁne œuvre"]
        )
    return _FITTED[ngram_range]


_FITTED: dict[tuple[int, int], TfidfVectorizer] = {}


def test_batch_ngrams_decline_what_they_cannot_reproduce() -> None:
    unigrams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).fit(["fly ash"])
    assert _CharNgrams.of(unigrams) is None  # neighbouring words would share a space
    words = TfidfVectorizer(analyzer="word").fit(["fly ash"])
    assert _CharNgrams.of(words) is None


def test_transform_falls_back_to_sklearn_for_a_huge_alphabet() -> None:
    """Past ~6,200 distinct characters a 5-gram no longer fits in an int64."""
    alphabet = [chr(0x4E00 + i) for i in range(6300)]
    corpus = [" ".join(alphabet[i : i + 50]) for i in range(0, len(alphabet), 50)]
    similarity = TextSimilarity(corpus, low_titles=[], expand=False)
    assert similarity._ngrams is None
    texts = [corpus[0], "fly ash", ""]
    _assert_same_rows(similarity.transform(texts), similarity.vectorizer.transform(texts))


def test_fit_is_reproducible(thesaurus: Thesaurus) -> None:
    titles = load_low_titles()[:100]
    a = TextSimilarity(["spent grain"], thesaurus=thesaurus, low_titles=titles)
    b = TextSimilarity(["spent grain"], thesaurus=thesaurus, low_titles=titles)
    assert a.vectorizer.vocabulary_ == b.vectorizer.vocabulary_
    np.testing.assert_array_equal(a.vectorizer.idf_, b.vectorizer.idf_)
    texts = _bench_texts(30, seed=2)
    _assert_same_rows(a.vectors(texts), b.vectors(texts))


# --------------------------------------------------------------------------------------------
# Concepts
# --------------------------------------------------------------------------------------------


def test_concepts_in_equals_reference_on_corpora(
    thesaurus: Thesaurus, reference: ReferenceMatcher
) -> None:
    texts = _corpus(thesaurus)
    found = [thesaurus.concepts_in(t) for t in texts]
    assert found == [reference.concepts_in(t) for t in texts]
    assert sum(map(bool, found)) > len(texts) / 2  # the corpora do name concepts


def test_concepts_in_keeps_the_matching_rules(thesaurus: Thesaurus) -> None:
    assert thesaurus.concepts_in("IBA and UCO") == {"incinerator_bottom_ash", "used_cooking_oil"}
    assert thesaurus.concepts_in("fog and rap") == frozenset()  # abbreviations need capitals
    assert "iba" not in thesaurus.concepts_in("fibre")  # word boundaries


@SETTINGS
@given(any_text)
def test_concepts_in_equals_reference_on_any_text(text: str) -> None:
    assert Thesaurus.default().concepts_in(text) == _REFERENCE.concepts_in(text)


_REFERENCE = ReferenceMatcher(Thesaurus.default())


@SETTINGS
@given(st.lists(st.sampled_from(sorted(_REFERENCE.trie)), max_size=8), st.data())
def test_concepts_in_equals_reference_on_thesaurus_words(words: list[str], data) -> None:
    """Runs of thesaurus keys, in any case, with and without plural endings and punctuation."""
    thesaurus = Thesaurus.default()
    text = " ".join(
        data.draw(st.sampled_from([w, w.upper(), w.title(), w + "s", w + "es", w + "'s", w + ","]))
        for w in words
    )
    assert thesaurus.concepts_in(text) == _REFERENCE.concepts_in(text)
