"""The similarity methods measured on the labelled set (tests/duplicate_pairs.py), run by hand:
for each method, its best recall at precision ≥ 0.9 (and the threshold that gives it) and its
best F1, on the development set and on the held-out set; for the chosen method also precision
and recall at its default threshold. The table in docs/DUPLICATES.md comes from here.

    python -m bench.compare_duplicate_methods

Every method weighs its features over the same findings (the set's own and the demo
programme's, see duplicate_pairs.corpus).
"""
from __future__ import annotations

import math
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz  # noqa: E402

from issues import duplicates_model as m  # noqa: E402
from tests import duplicate_pairs as lp  # noqa: E402

Scorer = Callable[[list[lp.Finding]], Callable[[lp.Finding, lp.Finding], float]]


def _text(f: lp.Finding) -> str:
    return f.title + "\n" + f.description


def _norm(t: str) -> str:
    return m._NON_WORD.sub("", unicodedata.normalize("NFKC", t)).lower()


def bigram_sets(corpus):
    """The previous method: cosine of the character-bigram sets."""
    return lambda a, b: m.cosine(m.bigrams(_text(a)), m.bigrams(_text(b)))


def tfidf(features: Callable[[str], list[str]]) -> Scorer:
    """Cosine of sublinear TF × smoothed IDF vectors of `features`."""
    def fit(corpus):
        docs = [Counter(features(_text(f))) for f in corpus]
        df = Counter(w for d in docs for w in d)
        n = len(docs)
        idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}

        def vec(f):
            v = {w: (1 + math.log(c)) * idf[w] for w, c in Counter(features(_text(f))).items()}
            z = math.sqrt(sum(x * x for x in v.values())) or 1.0
            return {w: x / z for w, x in v.items()}
        cache: dict = {}

        def score(a, b):
            va = cache.setdefault(a, vec(a))
            vb = cache.setdefault(b, vec(b))
            return sum(x * vb.get(w, 0.0) for w, x in va.items())
        return score
    return fit


def char_ngrams(t: str) -> list[str]:
    t = _norm(t)
    return [t[i:i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1)]


def plain_words(t: str) -> list[str]:
    return m._lexicon().cutter.cut(_norm(t), True)


def rapidfuzz_token_set(corpus):
    return lambda a, b: fuzz.token_set_ratio(" ".join(plain_words(_text(a))),
                                             " ".join(plain_words(_text(b)))) / 100


def rapidfuzz_partial(corpus):
    return lambda a, b: fuzz.partial_ratio(_norm(_text(a)), _norm(_text(b))) / 100


def chosen(corpus):
    feats = {f: m.features(f.title, f.description, lp.PLACES) for f in corpus}
    idf = m.inverse_frequencies(feats.values())
    vectors = {f: m.vector(v, idf) for f, v in feats.items()}
    return lambda a, b: m.similarity(vectors[a], vectors[b])


def without(**changes) -> Scorer:
    """The chosen method with some of its parts taken out (module constants replaced)."""
    def fit(corpus):
        saved = {k: getattr(m, k) for k in changes}
        for k, v in changes.items():
            setattr(m, k, v)
        m._lexicon.cache_clear()
        m._content_words.cache_clear()
        try:
            feats = {f: m.features(f.title, f.description, lp.PLACES) for f in corpus}
            idf = m.inverse_frequencies(feats.values())
            vectors = {f: m.vector(v, idf) for f, v in feats.items()}
            scores = {}
            for a, b, _, _ in lp.labelled() + lp.labelled(True):
                if a in vectors and b in vectors:
                    scores[(a, b)] = m.similarity(vectors[a], vectors[b])
        finally:
            for k, v in saved.items():
                setattr(m, k, v)
            m._lexicon.cache_clear()
            m._content_words.cache_clear()
        return lambda a, b: scores[(a, b)]
    return fit


METHODS: list[tuple[str, Scorer]] = [
    ("previous: character-bigram sets, cosine", bigram_sets),
    ("character 1–3-grams, TF-IDF cosine", tfidf(char_ngrams)),
    ("jieba words (with the domain words), TF-IDF cosine", tfidf(plain_words)),
    ("rapidfuzz token_set_ratio on the same words", rapidfuzz_token_set),
    ("rapidfuzz partial_ratio on characters", rapidfuzz_partial),
    ("chosen, without the synonym table", without(SYNONYMS={})),
    ("chosen, without the common-word list", without(COMMON_WORDS=frozenset())),
    ("chosen, without the coverage term (cosine only)", without(COVERAGE_SHARE=0.0)),
    ("chosen (duplicates_model)", chosen),
]


def best_f1(scores, labels) -> float:
    best = 0.0
    for t in sorted(set(scores)):
        p, r = lp.precision_recall(scores, labels, t)
        if p + r:
            best = max(best, 2 * p * r / (p + r))
    return best


def measure(fit: Scorer, held_out: bool) -> dict:
    data = lp.labelled(held_out)
    score = fit(lp.corpus(held_out))
    scores = [score(a, b) for a, b, _, _ in data]
    labels = [label for _, _, label, _ in data]
    r, t = lp.best_recall(scores, labels, 0.9)
    p0, r0 = lp.precision_recall(scores, labels, m.DEFAULT_THRESHOLD)
    return {"recall_at_p90": r, "threshold": t, "f1": best_f1(scores, labels),
            "p_default": p0, "r_default": r0}


def main() -> None:
    print("| method | labelled: recall at precision ≥ 0.9 (threshold) | best F1 | "
          "held-out: recall at precision ≥ 0.9 (threshold) | best F1 |")
    print("| --- | --- | --- | --- | --- |")
    for name, fit in METHODS:
        dev, held = measure(fit, False), measure(fit, True)
        print(f"| {name} | {dev['recall_at_p90']:.3f} ({dev['threshold']:.2f}) | "
              f"{dev['f1']:.3f} | {held['recall_at_p90']:.3f} ({held['threshold']:.2f}) | "
              f"{held['f1']:.3f} |")
    dev, held = measure(chosen, False), measure(chosen, True)
    print(f"\nchosen at the default threshold {m.DEFAULT_THRESHOLD}: labelled precision "
          f"{dev['p_default']:.3f} recall {dev['r_default']:.3f}; held-out precision "
          f"{held['p_default']:.3f} recall {held['r_default']:.3f}")


if __name__ == "__main__":
    main()
