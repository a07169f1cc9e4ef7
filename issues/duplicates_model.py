"""How alike two findings' wording is, and which of many findings are alike (pure: plain data in,
scores, pairs and clusters out; no database).

The method, chosen on the labelled set in tests/duplicate_pairs.py (figures in
docs/DUPLICATES.md):

1. Normalise (NFKC, lower case), then drop what says where and when rather than what: unit names
   the caller passes as `places`, dates, years, numbers and codes (`2024年`, `C1.2.3`, amounts);
   a finding that comes back in another unit or year is the same finding.
2. Rewrite the domain's synonyms to one word, longest first (混用/共享/借用 → 共用,
   承包/委外 → 外包, 账目 → 台账, 社会保险 → 社保 …) and drop negations (未, 没有): a finding
   is always a shortfall, so "未" says nothing about which one.
3. Cut into words with jieba (the Rust port, rjieba: 40,000 findings in a third of a second)
   taught the domain's words (外包商, 过机, 验视, 履约保证金 …), and drop the words found in
   almost every finding (外包, 问题, 管理, 不到位, 审计, 发现 …: COMMON_WORDS).
4. Weigh each word by its inverse document frequency over the findings being compared (a word
   every finding of a programme uses, a template's boilerplate, weighs nothing); title words
   count fully, words only the description adds count DESCRIPTION_WEIGHT.
5. Score = (1 − COVERAGE_SHARE) · cosine + COVERAGE_SHARE · coverage, where coverage is the
   larger of the two shares of a finding's weight that the other finding also has: a short
   title wholly contained in a longer description is a duplicate, while two findings that share
   a frame (…信息未备案) but differ in what it is about (人员 / 车辆) both leave weight unmatched.

Many findings: `similar_pairs` finds the pairs at or above a score without comparing every pair:
each finding is indexed under its SIGNATURE_WORDS heaviest words; a word held by at most
POSTING_CAP findings makes all of them candidates, a longer list (templated wording) is sorted
by the findings' signatures and each is paired with its WINDOW neighbours in that order (near-
identical findings sort together, so they still chain into one cluster). Candidates are scored
in chunks with numpy, so memory follows CHUNK_PAIRS, not the number of pairs.

Third-party: rjieba (word cutting) and numpy (scoring many pairs at once).
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

DEFAULT_THRESHOLD = 0.6    # score at which two findings are proposed as one (docs/DUPLICATES.md)
DESCRIPTION_WEIGHT = 0.4    # a word only the description has, against a title word
COVERAGE_SHARE = 0.5        # weight of the coverage term in the score
MIN_COVERAGE_WORDS = 2      # a finding of fewer content words is too vague to be "contained"
SIGNATURE_WORDS = 6         # heaviest words a finding is indexed under
POSTING_CAP = 48            # a word held by more findings pairs each only with its neighbours
WINDOW = 6                  # neighbours on each side in a long posting list
CHUNK_PAIRS = 200_000       # candidate pairs scored at once
PRIOR_DOCUMENTS = 10        # imaginary findings sharing no word, for small programmes

# canonical word → the ways ledgers write it. Rewritten longest first, so 承包商 becomes 外包商
# before 承包 could become 外包.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "共用": ("混用", "共享", "借用", "合用", "串用", "公用", "共同使用", "交叉使用", "转借"),
    "外包": ("承包", "委外", "外委", "外协"),
    "外包商": ("承包商", "承包方", "服务商", "外包单位", "承包单位", "合作商", "外包公司"),
    "台账": ("账目", "账簿", "登记簿"),
    "社保": ("社会保险",),
    "退出": ("清退", "淘汰"),
    "不合格": ("不达标", "未达标"),
    "流于形式": ("走过场", "形式主义"),
    "客户": ("用户", "顾客"),
    "丢损": ("丢失损毁", "丢失损坏", "遗失损毁", "丢失毁损"),
    "扣罚": ("扣罚款", "扣款", "罚款", "扣罚金"),
    "抵扣": ("扣除", "扣减", "冲抵"),
    "到期": ("期满", "届满"),
    "禁寄物品": ("违禁物品", "禁寄品", "禁限寄物品"),
    "设施": ("器材", "设备"),
    "监控平台": ("监控系统",),
    "纳入": ("接入", "列入", "覆盖"),
    "差异": ("差距",),
    "区域": ("地区",),
    "本地": ("当地", "同区域", "本区域"),
    "审核": ("审查", "审验", "把关"),
    "法律审核": ("法审", "法务审核", "合法性审核"),
    "离岗": ("离职", "离场"),
    "注销": ("停用", "收回", "清理"),
    "账号": ("帐号", "账户", "帐户"),
    "支付": ("付款", "支出", "拨付"),
    "保密协议": ("保密承诺书", "保密协定"),
    "培训": ("教育培训", "安全教育"),
    "一致": ("相符", "吻合"),
    "不一致": ("不相符", "不符", "不匹配"),
    "脱钩": ("脱节", "不挂钩"),
    "缺失": ("缺少", "缺乏", "不全", "不完整", "不健全"),
    "人员": ("投递员", "揽投员", "投递人员", "揽投人员", "从业人员"),
    "变相": ("名为", "实为", "名义"),
    "化整为零": ("拆分", "拆解"),
    "集体决策": ("集体研究决定", "集体研究", "集体审议"),
    "市场价格": ("市场价",),
    "倒签": ("补签",),
    "以往": ("前次", "上次", "以前", "往年", "历次", "上一轮"),
    "屡审屡犯": ("再次被审计发现", "反复出现", "重复发生", "屡查屡犯", "屡改屡犯"),
    "管理制度": ("管理办法",),
}

# Words jieba does not know as one word, or would cut differently (a canonical word made of two
# words jieba knows, 法律审核, is left to be cut into them: 法律部门审核 then shares both).
DOMAIN_WORDS: tuple[str, ...] = (
    "外包", "外包商", "寄递", "揽投", "揽收", "段道", "扣罚", "过机", "安检", "验视",
    "实名收寄", "劳务派遣", "履约保证金", "保证金", "集体决策", "单一来源", "公开招标", "倒签",
    "选商", "续签", "社保", "监控平台", "台账", "销号", "屡审屡犯", "化整为零", "流于形式",
    "丢损", "共用", "退出", "不合格", "抵扣", "禁寄物品", "保密协议", "转包", "分包", "内部审计",
    "以往", "管理制度", "按月", "不一致", "不严", "不足", "挂账", "核销", "违约责任", "考核办法",
    "原始凭证", "安全检查", "准入", "名录", "市场价格", "变相", "脱钩", "预付款", "应付款",
    "业务量", "结算单据", "达标率", "时限",
)

# Words nearly every finding uses: they must not make two findings look alike.
COMMON_WORDS: frozenset[str] = frozenset("""
外包 外包商 问题 管理 业务管理 管理工作 存在 部分 个别 不到位 不规范 规范 审计
发现 情况 工作 相关 有关 规定 要求 公司 分公司 单位 进行 开展 不 无 的 了 和
与 及 并 等 对 在 中 为 是 该 其 即 就 已 被 将 把 由 从 向 于 后 前 时
业务 方面 环节 现象 有 多 些 一些 方式 按 经 严格 落实 执行 落地 到位 及时
漏洞 薄弱 缺陷 风险 隐患 违规 擅自 随意 范围 他人 明显 较大 多个 多名 以 各 同
且 仍 再次 整改 导致 造成 影响 进一步 加强 完善 健全 有效 一定 没 所 个 等等
之 但 而 又 也 还 均 都
""".split())

NEGATIONS = re.compile(r"尚未|没有|未")
# codes, numbers and amounts (c1.2.3, 12.5万元 → 万元) with the 年/月/日 of a date after them
_DATES_CODES = re.compile(r"[a-z]*\d[a-z0-9.\-/%]*"
                          r"(?:\s*年(?:\s*\d+\s*月)?(?:\s*\d+\s*日)?|\s*月\s*\d+\s*日)?")
_NON_WORD = re.compile(r"[\W_]+")
_NOT_IDEOGRAPH = re.compile(r"[^\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Vector:
    """A finding's weighted words: `words` sorted, `weights` their idf-weighted counts."""

    words: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def norm(self) -> float:
        """The Euclidean length of the weights."""
        return math.sqrt(sum(w * w for w in self.weights))


class _Lexicon:
    """The synonym rewriter and the word cutter taught the domain's words (built once)."""

    def __init__(self) -> None:
        import rjieba
        # Canonical and domain words map to themselves, so that a variant inside one does not
        # break it (市场价格 is not 市场价 + 格, 预付款 is not 预 + 付款 → 预支付).
        self.canonical = ({w: w for w in DOMAIN_WORDS} | {c: c for c in SYNONYMS}
                          | {v: c for c, vs in SYNONYMS.items() for v in vs})
        keys = sorted(self.canonical, key=len, reverse=True)
        self.synonyms = re.compile("|".join(map(re.escape, keys)))
        self.cutter = rjieba.Jieba()
        for w in DOMAIN_WORDS:
            self.cutter.add_word(w, 2000, None)

    def rewrite(self, text: str) -> str:
        return self.synonyms.sub(lambda m: self.canonical[m.group(0)], text)

    def cut(self, text: str) -> list[str]:
        return [w for w in self.cutter.cut(text, True) if not _NON_WORD.fullmatch(w)]


@functools.cache
def _lexicon() -> _Lexicon:
    return _Lexicon()


class Places:
    """Unit names to take out of texts, compiled once (a trie of alternatives: a flat list of
    two hundred names was the slowest step of reading a programme)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        trie: dict = {}
        for name in {unicodedata.normalize("NFKC", n).lower() for n in names if n}:
            node = trie
            for ch in name:
                node = node.setdefault(ch, {})
            node[""] = {}
        self.pattern = re.compile(_trie_pattern(trie)) if trie else None

    def remove(self, text: str) -> str:
        """The text with every name replaced by a space (longest match first)."""
        return self.pattern.sub(" ", text) if self.pattern is not None else text


def _trie_pattern(node: dict) -> str:
    alternatives = [re.escape(ch) + _trie_pattern(child) for ch, child in sorted(node.items())
                    if ch]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    # A name that ends here may also go on: the longer match is tried first.
    return f"(?:{body})?" if "" in node else body


def _places(places: "Places | Sequence[str]") -> Places:
    return places if isinstance(places, Places) else _places_cached(tuple(places))


@functools.lru_cache(maxsize=16)
def _places_cached(names: tuple[str, ...]) -> Places:
    return Places(names)


def _nfkc(text: str) -> str:
    # CJK unified ideographs are stable under NFKC (nothing decomposes or composes with them), so
    # only the runs between them need normalising: a third of the time of the whole text.
    return _NOT_IDEOGRAPH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _clean(text: str, places: Places) -> str:
    return _DATES_CODES.sub(" ", places.remove(_nfkc(text).lower()))


@functools.lru_cache(maxsize=1 << 15)
def _content_words(cleaned: str) -> tuple[str, ...]:
    # Cached: a ledger repeats its descriptions' boilerplate, and the same finding recurs.
    lex = _lexicon()
    t = NEGATIONS.sub(" ", lex.rewrite(cleaned))
    return tuple(w for w in lex.cut(t) if w not in COMMON_WORDS)


def words(text: str, places: Places | Sequence[str] = ()) -> list[str]:
    """The content words of a text, in order: places, dates, numbers and codes removed,
    synonyms rewritten to one word, negations and COMMON_WORDS dropped."""
    if not text:
        return []
    return list(_content_words(_clean(text, _places(places))))


@functools.lru_cache(maxsize=1 << 12)
def shown_words(text: str) -> tuple[str, ...]:
    """The words of a text as a reader sees them (synonyms and common words kept, punctuation
    dropped), for showing what two findings share (cached: an issue is in several pairs)."""
    return tuple(_lexicon().cut(_nfkc(text or "").lower()))


def features(title: str, description: str = "", places: Places | Sequence[str] = ()
             ) -> dict[str, float]:
    """word → how much it counts before weighting: 1 for a title word, DESCRIPTION_WEIGHT for a
    word only the description has (repeats count once)."""
    # One clean-up for both texts (the normalisation is most of its cost); a line break cannot
    # be part of a place, a date or a code, so the split after it is exact.
    cleaned = _clean((title or "") + "\n" + (description or ""), _places(places))
    head, _, tail = cleaned.partition("\n")
    out = dict.fromkeys(_content_words(head), 1.0)
    if tail.strip():
        for w in _content_words(tail):
            out.setdefault(w, DESCRIPTION_WEIGHT)
    return out


def inverse_frequencies(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """word → log((n + PRIOR_DOCUMENTS + 1) / (df + 1)) over the n documents (each an iterable
    of its words): in a large programme a word every finding has weighs about 0; the prior
    documents (that have none of the words) keep the two findings of a tiny programme from
    weighing nothing. An empty corpus gives {}."""
    df: Counter[str] = Counter()
    n = 0
    for doc in documents:
        df.update(set(doc))
        n += 1
    return {w: math.log((n + PRIOR_DOCUMENTS + 1) / (c + 1)) for w, c in df.items()}


def unseen_weight(idf: dict[str, float]) -> float:
    """The weight of a word the corpus never had (as rare as can be)."""
    return max(idf.values(), default=1.0) or 1.0


def vector(feats: dict[str, float], idf: dict[str, float], unseen: float | None = None
           ) -> Vector:
    """A finding's features weighted by the corpus' inverse frequencies (words of weight 0
    dropped); a word the corpus lacks weighs `unseen` (default: unseen_weight(idf))."""
    if unseen is None:
        unseen = unseen_weight(idf)
    pairs = sorted((w, m * idf.get(w, unseen)) for w, m in feats.items())
    pairs = [(w, x) for w, x in pairs if x > 0]
    return Vector(tuple(w for w, _ in pairs), tuple(x for _, x in pairs))


def similarity(a: Vector, b: Vector) -> float:
    """The score of two findings, 0 … 1 (1 for the same words)."""
    if not a.words or not b.words:
        return 0.0
    wb = dict(zip(b.words, b.weights))
    dot = matched_a = matched_b = 0.0
    for w, x in zip(a.words, a.weights):
        y = wb.get(w)
        if y is not None:
            dot += x * y
            matched_a += x
            matched_b += y
    cos = dot / (a.norm * b.norm)
    cov = max(matched_a / sum(a.weights) if len(a.words) >= MIN_COVERAGE_WORDS else 0.0,
              matched_b / sum(b.weights) if len(b.words) >= MIN_COVERAGE_WORDS else 0.0)
    return min(1.0, (1 - COVERAGE_SHARE) * cos + COVERAGE_SHARE * cov)


def shared_words(a: str, b: str, limit: int = 12) -> tuple[str, ...]:
    """The words two texts share, in the order of the first (punctuation dropped)."""
    in_b = set(shown_words(b))
    out: list[str] = []
    for w in shown_words(a):
        if w in in_b and w not in out:
            out.append(w)
            if len(out) == limit:
                break
    return tuple(out)


# --- many findings at once -------------------------------------------------------------------


@dataclass
class Matrix:
    """Vectors packed for scoring many pairs at once: row i's word ids (sorted) are
    ids[start[i]:start[i + 1]], with their weights and the weights over the row's norm."""

    start: np.ndarray
    ids: np.ndarray
    weights: np.ndarray
    unit: np.ndarray
    total: np.ndarray
    length: np.ndarray

    @classmethod
    def _of_rows(cls, n: int, row: np.ndarray, ids: np.ndarray,
                 weights: np.ndarray) -> "Matrix":
        """The matrix of entries (row, word id, weight), rows in order and ids sorted in a
        row."""
        length = np.bincount(row, minlength=n).astype(np.int64)
        start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(length, out=start[1:])
        norm = np.sqrt(np.bincount(row, weights * weights, minlength=n))
        total = np.bincount(row, weights, minlength=n)
        unit = weights / np.where(norm[row] > 0, norm[row], 1.0)
        return cls(start, ids, weights, unit, total, length)

    @classmethod
    def pack(cls, vectors: Sequence[Vector]) -> "Matrix":
        """The rows of `vectors`, in order."""
        # Word ids follow the sorted words, so each row's ids come out sorted too.
        vocab = {w: i for i, w in enumerate(sorted({w for v in vectors for w in v.words}))}
        lengths = [len(v.words) for v in vectors]
        row = np.repeat(np.arange(len(vectors)), lengths)
        ids = np.fromiter((vocab[w] for v in vectors for w in v.words), dtype=np.int64,
                          count=len(row))
        weights = np.fromiter((x for v in vectors for x in v.weights), dtype=np.float64,
                              count=len(row))
        return cls._of_rows(len(vectors), row, ids, weights)

    @classmethod
    def weigh(cls, feats: Sequence[dict[str, float]], idf: dict[str, float]) -> "Matrix":
        """The rows of vector(f, idf) for each of `feats`, in order, built at once (on 40,000
        findings a fraction of the time of building each Vector)."""
        lengths = [len(f) for f in feats]
        row = np.repeat(np.arange(len(feats)), lengths)
        flat = list(chain.from_iterable(feats))
        if not flat:
            return cls._of_rows(len(feats), row, np.zeros(0, dtype=np.int64), np.zeros(0))
        vocab, ids = np.unique(np.array(flat), return_inverse=True)   # sorted: ids sorted too
        counts = np.fromiter(chain.from_iterable(f.values() for f in feats), dtype=np.float64,
                             count=len(row))
        unseen = unseen_weight(idf)
        word_idf = np.array([idf.get(w, unseen) for w in vocab.tolist()], dtype=np.float64)
        weights = counts * word_idf[ids]
        keep = weights > 0
        row, ids, weights = row[keep], ids[keep].astype(np.int64), weights[keep]
        order = np.lexsort((ids, row))
        return cls._of_rows(len(feats), row[order], ids[order], weights[order])

    def take(self, rows: Sequence[int] | np.ndarray) -> "Matrix":
        """The matrix of these rows, in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        pair, pos = self._entries(rows)
        return type(self)._of_rows(len(rows), pair, self.ids[pos], self.weights[pos])

    def __len__(self) -> int:
        return len(self.start) - 1

    def _entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pair index, entry position) of every word of each of `rows`, pair by pair."""
        lengths = self.length[rows]
        pair = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths,
                                                            lengths)
        return pair, self.start[rows][pair] + offsets

    def scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """similarity() of the pairs (a[k], b[k]), computed together."""
        out = np.zeros(len(a))
        if not len(a):
            return out
        width = int(self.ids.max()) + 1 if len(self.ids) else 1
        pa, ea = self._entries(a)
        pb, eb = self._entries(b)
        key_a = pa * width + self.ids[ea]
        key_b = pb * width + self.ids[eb]     # sorted: pairs in order, ids sorted in a row
        pos = np.searchsorted(key_b, key_a)
        pos[pos == len(key_b)] = 0
        hit = key_b[pos] == key_a
        pair, ea, eb = pa[hit], ea[hit], eb[pos[hit]]
        cos = np.bincount(pair, self.unit[ea] * self.unit[eb], minlength=len(a))
        matched_a = np.bincount(pair, self.weights[ea], minlength=len(a))
        matched_b = np.bincount(pair, self.weights[eb], minlength=len(a))
        cov_a = np.where(self.length[a] >= MIN_COVERAGE_WORDS,
                         matched_a / np.where(self.total[a] > 0, self.total[a], 1.0), 0.0)
        cov_b = np.where(self.length[b] >= MIN_COVERAGE_WORDS,
                         matched_b / np.where(self.total[b] > 0, self.total[b], 1.0), 0.0)
        out = (1 - COVERAGE_SHARE) * cos + COVERAGE_SHARE * np.maximum(cov_a, cov_b)
        return np.minimum(out, 1.0)

    def signatures(self, k: int | None = None) -> np.ndarray:
        """Each row's k (default SIGNATURE_WORDS) heaviest word ids, heaviest first (ties by
        id), as an n × k array padded with -1."""
        k = SIGNATURE_WORDS if k is None else k
        row = np.repeat(np.arange(len(self)), self.length)
        order = np.lexsort((self.ids, -self.weights, row))
        rank = np.arange(len(order)) - self.start[row[order]]
        keep = order[rank < k]
        out = np.full((len(self), k), -1, dtype=np.int64)
        out[row[keep], (rank[rank < k])] = self.ids[keep]
        return out


def candidate_pairs(m: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a < b) worth scoring: rows sharing a signature word (see the module docstring).
    A word's rows are sorted by their signatures; in a list of at most POSTING_CAP rows every
    row is paired with every other, in a longer one with its WINDOW next rows."""
    n = len(m)
    sigs = m.signatures()
    # The rank of each row's signature in lexicographic order: rows worded alike sort together.
    sig_rank = np.empty(n, dtype=np.int64)
    sig_rank[np.lexsort(sigs.T[::-1])] = np.arange(n)
    word = sigs.ravel()
    row = np.repeat(np.arange(n), sigs.shape[1])
    present = word >= 0
    word, row = word[present], row[present]
    order = np.lexsort((row, sig_rank[row], word))
    word, row = word[order], row[order]
    first = np.searchsorted(word, word, side="left")
    size = np.searchsorted(word, word, side="right") - first
    position = np.arange(len(word)) - first
    reach = np.where(size <= POSTING_CAP, size - 1, WINDOW)
    a_parts, b_parts = [], []
    for d in range(1, int(reach.max(initial=0)) + 1):
        ok = (position + d < size) & (d <= reach)
        idx = np.flatnonzero(ok)
        a_parts.append(row[idx])
        b_parts.append(row[idx + d])
    if not a_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    return keys // n, keys % n


def similar_pairs(vectors: Sequence[Vector] | Matrix, minimum: float, *,
                  units: Sequence[int] | None = None, unit_bonus: float = 0.0,
                  excluded: Iterable[tuple[int, int]] = (),
                  neighbours: int | None = None, decimals: int | None = None
                  ) -> list[tuple[int, int, float, float]]:
    """(i, j, score, text score), i < j, for the pairs of `vectors` whose score reaches
    `minimum`: the text score is similarity(), the score adds `unit_bonus` when units[i] ==
    units[j] (at most 1). Index pairs in `excluded` (i < j) are never returned. With
    `neighbours`, a pair is kept only if it is among the strongest `neighbours` links of one of
    its two ends: the clusters stay the same (near-identical findings are linked many times
    over) and a templated programme gives a bounded number of pairs instead of n². Scores are
    rounded to `decimals` if given."""
    m = vectors if isinstance(vectors, Matrix) else Matrix.pack(vectors)
    n = len(m)
    a, b = candidate_pairs(m)
    excluded_keys = np.fromiter((i * n + j for i, j in excluded), dtype=np.int64)
    if len(excluded_keys) and len(a):
        keep = ~np.isin(a * n + b, excluded_keys)
        a, b = a[keep], b[keep]
    unit_of = np.asarray(units if units is not None else np.zeros(n), dtype=np.int64)
    parts = []
    for s in range(0, len(a), CHUNK_PAIRS):
        ca, cb = a[s:s + CHUNK_PAIRS], b[s:s + CHUNK_PAIRS]
        text = m.scores(ca, cb)
        score = np.minimum(text + unit_bonus * (unit_of[ca] == unit_of[cb]), 1.0)
        keep = score >= minimum - 1e-9
        parts.append((ca[keep], cb[keep], score[keep], text[keep]))
    if not parts:
        return []
    a, b, score, text = (np.concatenate([p[k] for p in parts]) for k in range(4))
    if neighbours is not None and len(a):
        keep = _strongest(a, b, score, neighbours)
        a, b, score, text = a[keep], b[keep], score[keep], text[keep]
    if decimals is not None:
        score, text = np.round(score, decimals), np.round(text, decimals)
    return list(zip(a.tolist(), b.tolist(), score.tolist(), text.tolist()))


def _strongest(a: np.ndarray, b: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """A mask of the pairs that are among the k strongest of either end (ties: smaller other
    end first)."""
    node = np.concatenate([a, b])
    other = np.concatenate([b, a])
    edge = np.concatenate([np.arange(len(a)), np.arange(len(a))])
    order = np.lexsort((other, -np.concatenate([score, score]), node))
    node_sorted = node[order]
    first = np.searchsorted(node_sorted, node_sorted, side="left")
    rank = np.arange(len(order)) - first
    keep = np.zeros(len(a), dtype=bool)
    keep[edge[order][rank < k]] = True
    return keep


def components(edges: Iterable[tuple[int, int]]) -> list[set[int]]:
    """The connected components of the graph of `edges` (clusters of one finding). Computed with
    numpy: each edge hooks the larger of its ends' roots onto the smaller, pointers then jump to
    their roots, until no edge joins two roots. On the 40,000-issue programme building a networkx
    graph of its 230,000 links took longer than finding them."""
    pairs = np.asarray(edges if isinstance(edges, np.ndarray) else list(edges),
                       dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return []
    nodes, index = np.unique(pairs, return_inverse=True)
    a, b = index.reshape(-1, 2).T
    label = np.arange(len(nodes))
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, label[a], low)
        np.minimum.at(new, label[b], low)
        new = new[new]
        while not np.array_equal(new, new[new]):
            new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    out: dict[int, set[int]] = {}
    for node, lab in zip(nodes.tolist(), label.tolist()):
        out.setdefault(lab, set()).add(node)
    return list(out.values())


# --- the previous method, kept as the baseline the labelled set is measured against ----------


def bigrams(text: str) -> frozenset[str]:
    """The character bigrams of a text (NFKC, lower case, no spaces or punctuation; a
    one-character text is its own gram)."""
    t = _NON_WORD.sub("", unicodedata.normalize("NFKC", text or "")).lower()
    if len(t) < 2:
        return frozenset([t]) if t else frozenset()
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def cosine(a: frozenset[str], b: frozenset[str]) -> float:
    """|A∩B| / sqrt(|A|·|B|) of two gram sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))
