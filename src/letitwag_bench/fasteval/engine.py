"""Zero-shot evaluation of several open_clip models over one pass of the images.

Per batch of rows: the encoded bytes are read once and decoded once; each distinct preprocessing
(:class:`PreprocessSpec`) is applied once to the decoded images; every model whose preprocessing it is
encodes that tensor. Batches are prepared in a background thread (on a side CUDA stream on GPUs) while
the models encode the previous batch.

Decode modes:

* ``tensor`` — plain JPEGs are decoded with ``torchvision.io.decode_jpeg`` on the evaluation device
  (nvJPEG, batched, on CUDA) and resized/cropped/normalised there; other images take the standard path.
* ``standard`` — every image is decoded by PIL and preprocessed by the model's own open_clip
  transform, in a pool of threads: exactly clip_benchmark's inputs.
* ``auto`` (default) — ``tensor`` on CUDA, ``standard`` on CPU, where the tensor path saves nothing
  (both use libjpeg on the same cores) and the standard path is the reference.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from letitwag_bench.fasteval.images import (
    TENSOR,
    PreprocessSpec,
    decode_jpegs,
    decode_pil,
    preprocess_tensor,
    route,
)
from letitwag_bench.fasteval.source import Chunk, ImageSource

DECODE_MODES = ("auto", "tensor", "standard")


@dataclass
class LoadedModel:
    """An open_clip model ready for evaluation, with its tokenizer and preprocessing."""

    name: str
    pretrained: str | None
    model: torch.nn.Module
    tokenizer: object
    spec: PreprocessSpec

    @classmethod
    def load(cls, name: str, pretrained: str | None, device: torch.device | str) -> LoadedModel:
        import open_clip

        model = open_clip.create_model(name, pretrained=pretrained or None, device=device)
        return cls.wrap(model, open_clip.get_tokenizer(name), name=name, pretrained=pretrained)

    @classmethod
    def wrap(cls, model: torch.nn.Module, tokenizer, *, name: str = "", pretrained: str | None = None) -> LoadedModel:
        """An open_clip model loaded elsewhere (e.g. by clip_benchmark's ``load_clip``)."""
        model.eval()
        return cls(name=name, pretrained=pretrained, model=model, tokenizer=tokenizer,
                   spec=PreprocessSpec.from_model(model))


@torch.no_grad()
def zero_shot_classifier(model: torch.nn.Module, tokenizer, classnames: Sequence[str],
                         templates: Sequence[str], device: torch.device | str, *, amp: bool = True,
                         batch_size: int | None = None, tokens: torch.Tensor | None = None) -> torch.Tensor:
    """Class weights ``(embed_dim, n_classes)``: the same math as clip_benchmark's ``zero_shot_classifier``
    (per class, the normalised mean of the normalised template embeddings), but all classes × templates
    are tokenised at once and encoded in large batches instead of one small batch per class.

    ``tokens`` (``tokenizer(prompts(classnames, templates))``) may be passed to share tokenisation
    between models with the same tokenizer. ``batch_size``: prompts per encode call; by default 4096 on
    CUDA, 256 on CPU (where small length-sorted batches measured twice as fast as large ones).
    """
    device = torch.device(device)
    batch_size = batch_size or (4096 if device.type == "cuda" else 256)
    if tokens is None:
        tokens = tokenizer(prompts(classnames, templates))
    # Encode in order of prompt length, so that each batch is cut after its own longest prompt
    # (encode_text): about a third fewer positions than batches in class order.
    order = torch.argsort(tokens.argmax(dim=-1), stable=True)
    feats = []
    with torch.autocast(device.type, enabled=amp):
        for part in tokens[order].split(batch_size):
            feats.append(F.normalize(encode_text(model, part.to(device)), dim=-1).float())
    per_prompt = torch.cat(feats)[torch.argsort(order)].view(len(classnames), len(templates), -1)
    return F.normalize(per_prompt.mean(dim=1), dim=-1).T.contiguous()


def encode_text(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(tokens)``, computed on the tokens up to the last pooled position only, where
    that gives the same result: an open_clip ``CLIP`` text tower with a causal mask pools the EOT token,
    and under the causal mask no position sees the padding after it. Prompts are ~15 of 77 tokens, so
    this does a fifth of the work. Other models get their own ``encode_text``.
    """
    from open_clip.model import CLIP
    from open_clip.transformer import text_global_pool

    pool = getattr(model, "text_pool_type", None)
    if type(model) is not CLIP or model.attn_mask is None or pool not in ("argmax", "eos"):
        return model.encode_text(tokens)
    pooled = tokens.argmax(dim=-1) if pool == "argmax" else (tokens == model.text_eos_id).int().argmax(dim=-1)
    n = int(pooled.max()) + 1
    tokens = tokens[:, :n]
    # CLIP.encode_text (open_clip 3.x) with the sequence cut to n positions
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:n].to(cast_dtype)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
    x = text_global_pool(x, tokens, pool, eos_token_id=model.text_eos_id)
    if model.text_projection is None:
        return x
    return model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection


def prompts(classnames: Sequence[str], templates: Sequence[str]) -> list[str]:
    return [t.format(c=c) for c in classnames for t in templates]


# ------------------------------------------------------------------------------------------- batches

@dataclass
class Batch:
    rows: np.ndarray
    labels: np.ndarray
    inputs: dict[PreprocessSpec, torch.Tensor]
    routes: Counter
    ready: torch.cuda.Event | None = None


class BatchMaker:
    """Turns a chunk of encoded images into model inputs for each preprocessing spec."""

    def __init__(self, specs: Sequence[PreprocessSpec], device: torch.device, decode: str, workers: int):
        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
        self.specs = list(dict.fromkeys(specs))
        self.device = device
        self.use_tensor = decode == "tensor" or (decode == "auto" and device.type == "cuda")
        self.transforms = {s: s.standard_transform() for s in self.specs}
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="letitwag-pil")
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _standard(self, data: bytes, row: int) -> list[torch.Tensor]:
        # RGB first, as clip_benchmark's datasets (torchvision's pil_loader, our Let It Wag! loader) hand
        # images to the transform; then one decode serves each preprocessing's own transform.
        img = decode_pil(data, row).convert("RGB")
        return [self.transforms[s](img) for s in self.specs]

    def make(self, chunk: Chunk) -> Batch:
        n = len(chunk.data)
        routes = [route(d) for d in chunk.data] if self.use_tensor else ["standard"] * n
        fast = [i for i, r in enumerate(routes) if r == TENSOR]
        ctx = torch.cuda.stream(self.stream) if self.stream is not None else nullcontext()
        with ctx:
            decoded = decode_jpegs([chunk.data[i] for i in fast], self.device)
            for i, img in zip(fast, decoded, strict=True):
                if img is None:
                    routes[i] = "rejected-by-decoder"
            kept = [(i, img) for i, img in zip(fast, decoded, strict=True) if img is not None]
            slow = [i for i, r in enumerate(routes) if r != TENSOR]
            standard = list(self.pool.map(lambda i: self._standard(chunk.data[i], int(chunk.rows[i])), slow))
            inputs: dict[PreprocessSpec, torch.Tensor] = {}
            for k, spec in enumerate(self.specs):
                if not slow:
                    inputs[spec] = preprocess_tensor([img for _, img in kept], spec)
                    continue
                pixels = torch.stack([s[k] for s in standard])
                if self.stream is not None:
                    pixels = pixels.pin_memory().to(self.device, non_blocking=True)
                if not kept:
                    inputs[spec] = pixels
                    continue
                out = torch.empty((n, 3, *spec.size), dtype=torch.float32, device=self.device)
                out[[i for i, _ in kept]] = preprocess_tensor([img for _, img in kept], spec)
                out[slow] = pixels
                inputs[spec] = out
            ready = None
            if self.stream is not None:
                ready = torch.cuda.Event()
                ready.record(self.stream)
        return Batch(rows=chunk.rows, labels=chunk.labels, inputs=inputs, routes=Counter(routes), ready=ready)


def iter_batches(source: ImageSource, maker: BatchMaker, batch_size: int,
                 prefetch: int = 2) -> Iterator[Batch]:
    """Prepare batches ``prefetch`` ahead in a background thread; yield them in row order. An error
    preparing a batch (e.g. an undecodable image) is raised here, in the caller's thread."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="letitwag-batches") as producer:
        pending: deque = deque()
        for chunk in source.chunks(batch_size):
            pending.append(producer.submit(maker.make, chunk))
            if len(pending) > prefetch:
                yield _ready(pending.popleft().result())
        while pending:
            yield _ready(pending.popleft().result())


def _ready(batch: Batch) -> Batch:
    if batch.ready is not None:
        current = torch.cuda.current_stream(next(iter(batch.inputs.values())).device)
        current.wait_event(batch.ready)
        for t in batch.inputs.values():
            t.record_stream(current)  # the side stream allocated it; keep it alive for this stream's use
    return batch


# ---------------------------------------------------------------------------------------- evaluation

@dataclass
class Predictions:
    """One model's predictions: ``topk[i]`` are row ``i``'s top-5 (or fewer) class indices, best first."""

    topk: np.ndarray
    labels: np.ndarray
    n_classes: int

    @property
    def top1(self) -> np.ndarray:
        return self.topk[:, 0]

    def metrics(self) -> dict[str, float]:
        """clip_benchmark's zero-shot metrics: acc1, acc5 (NaN below 5 classes), mean_per_class_recall."""
        from sklearn.metrics import balanced_accuracy_score

        with warnings.catch_warnings():  # a zero-shot model may predict classes absent from the labels
            warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
            recall = float(balanced_accuracy_score(self.labels, self.top1))
        acc1 = float(np.mean(self.top1 == self.labels))
        acc5 = (float(np.mean((self.topk[:, :5] == self.labels[:, None]).any(axis=1)))
                if self.n_classes >= 5 else float("nan"))
        return {"acc1": acc1, "acc5": acc5,
                "mean_per_class_recall": recall}


@dataclass
class EvalRun:
    predictions: list[Predictions]
    routes: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    n_images: int = 0


def evaluate(models: Sequence[LoadedModel], source: ImageSource, classnames: Sequence[str],
             templates: Sequence[str], *, device: torch.device | str, batch_size: int = 256,
             amp: bool | None = None, decode: str = "auto", workers: int = 4) -> EvalRun:
    """Zero-shot top-k predictions of every model on every row of ``source``, decoding each image once.

    ``classnames`` are the prompts' class names (one per label index); ``templates`` contain ``{c}``.
    ``amp``: autocast as clip_benchmark does; ``None`` = on CUDA only (on CPUs without native bfloat16
    it is slower than float32).
    """
    device = torch.device(device)
    amp = device.type == "cuda" if amp is None else amp
    if len(classnames) != len(source.class_names):
        raise ValueError(f"{len(classnames)} class names for a dataset with "
                         f"{len(source.class_names)} classes")
    t0 = time.perf_counter()
    token_cache: dict[object, torch.Tensor] = {}
    classifiers = []
    for m in models:
        key = _tokenizer_key(m.tokenizer)
        if key not in token_cache:
            token_cache[key] = m.tokenizer(prompts(classnames, templates))
        classifiers.append(zero_shot_classifier(m.model, m.tokenizer, classnames, templates, device, amp=amp,
                                                tokens=token_cache[key]))
    t1 = time.perf_counter()
    k = min(5, len(classnames))
    topk: list[list[torch.Tensor]] = [[] for _ in models]
    labels: list[np.ndarray] = []
    routes: Counter = Counter()
    maker = BatchMaker([m.spec for m in models], device, decode, workers)
    try:
        with torch.no_grad():
            for batch in iter_batches(source, maker, batch_size):
                for j, (m, clf) in enumerate(zip(models, classifiers, strict=True)):
                    with torch.autocast(device.type, enabled=amp):
                        feats = F.normalize(m.model.encode_image(batch.inputs[m.spec]), dim=-1)
                        logits = 100.0 * feats @ clf
                    topk[j].append(logits.float().topk(k, dim=1).indices.to("cpu", non_blocking=True))
                labels.append(batch.labels)
                routes.update(batch.routes)
    finally:
        maker.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t2 = time.perf_counter()
    all_labels = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    preds = [Predictions(topk=torch.cat(t).numpy() if t else np.zeros((0, k), dtype=np.int64),
                         labels=all_labels, n_classes=len(classnames)) for t in topk]
    return EvalRun(predictions=preds, routes=routes, n_images=len(all_labels),
                   seconds={"classifier": t1 - t0, "images": t2 - t1})


def _tokenizer_key(tokenizer) -> object:
    # Tokenisers of one class and context length, built from the same vocabulary, give the same tokens;
    # open_clip's SimpleTokenizer is the common case. Anything else is keyed by identity.
    from open_clip.tokenizer import SimpleTokenizer

    if type(tokenizer) is SimpleTokenizer and tokenizer.reduction_fn is None:
        return ("simple", tokenizer.context_length, tokenizer.clean_fn, tokenizer.sot_token_id,
                tokenizer.eot_token_id, len(tokenizer.encoder))
    return id(tokenizer)
