"""Fast evaluation path: routing/fallback decisions, agreement with the standard open_clip PIL path,
batched classifier = clip_benchmark's, decode-once multi-model evaluation."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from tiny_clip import jpeg_bytes, png_bytes, save_tiny_clip, synthetic_image, synthetic_jpegs, write_letitwag_parquet

from letitwag_bench.fasteval import (
    ImageDecodeError,
    LoadedModel,
    PreprocessSpec,
    clip_templates,
    evaluate,
    open_source,
    route,
    zero_shot_classifier,
)
from letitwag_bench.fasteval import images as images_mod
from letitwag_bench.fasteval.engine import BatchMaker, iter_batches
from letitwag_bench.fasteval.source import Chunk

CPU = torch.device("cpu")
TEMPLATES = ["a photo of a {c}.", "a drawing of a {c}.", "itap of a {c}."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> LoadedModel:
    return LoadedModel.load(save_tiny_clip(tmp_path_factory.mktemp("tiny")), None, CPU)


@pytest.fixture(scope="module")
def rgb() -> Image.Image:
    return synthetic_image(np.random.default_rng(0), (400, 300), 3)


def _chunk(datas: list[bytes], labels: list[int] | None = None, start: int = 0) -> Chunk:
    return Chunk(rows=np.arange(start, start + len(datas)), data=datas,
                 labels=np.array(labels or [0] * len(datas)))


# ----------------------------------------------------------------------------------------------- routing

def test_route_plain_jpegs_to_tensor_path(rgb):
    assert route(jpeg_bytes(rgb)) == "jpeg"
    assert route(jpeg_bytes(rgb, progressive=True)) == "jpeg"
    assert route(jpeg_bytes(rgb, exif=Image.Exif().tobytes())) == "jpeg"


@pytest.mark.parametrize(("make", "expected"), [
    (lambda im: png_bytes(im), "png"),
    (lambda im: jpeg_bytes(im.convert("CMYK")), "cmyk-jpeg"),
    (lambda im: jpeg_bytes(im.convert("L")), "grayscale-jpeg"),
    (lambda im: jpeg_bytes(im)[:-5000], "truncated-jpeg"),
    (lambda im: b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9", "unsupported-jpeg"),
    (lambda im: b"GIF89a not really", "not-jpeg"),
    (lambda im: b"", "not-jpeg"),
])
def test_route_sends_everything_else_to_pil(rgb, make, expected):
    assert route(make(rgb)) == expected


def test_route_reads_frame_header_not_embedded_thumbnail(rgb):
    # An APP1 segment holding a grayscale JPEG before the real (RGB) frame: the walk must skip it.
    thumb = jpeg_bytes(rgb.convert("L").resize((40, 30)))
    app1 = b"\xff\xe1" + (len(thumb) + 2).to_bytes(2, "big") + thumb
    data = jpeg_bytes(rgb)
    assert route(data[:2] + app1 + data[2:]) == "jpeg"
    assert route(data[:2] + app1 + jpeg_bytes(rgb.convert("L"))[2:]) == "grayscale-jpeg"


# ------------------------------------------------------------------------------- fallbacks in the pipeline

def test_mixed_batch_each_image_on_its_path(tiny, rgb):
    datas = [jpeg_bytes(rgb), png_bytes(rgb), jpeg_bytes(rgb.convert("CMYK")), jpeg_bytes(rgb.convert("L")),
             jpeg_bytes(rgb, progressive=True)]
    maker = BatchMaker([tiny.spec], CPU, "tensor", workers=2)
    try:
        batch = maker.make(_chunk(datas))
    finally:
        maker.close()
    assert batch.routes == {"jpeg": 2, "png": 1, "cmyk-jpeg": 1, "grayscale-jpeg": 1}
    standard = tiny.spec.standard_transform()
    got = batch.inputs[tiny.spec]
    for i in (1, 2, 3):  # fallbacks: exactly the standard path's tensor
        expected = standard(Image.open(io.BytesIO(datas[i])).convert("RGB"))
        assert torch.equal(got[i], expected), i
    for i in (0, 4):  # tensor path: equal up to resize rounding
        expected = standard(Image.open(io.BytesIO(datas[i])).convert("RGB"))
        assert (got[i] - expected).abs().mean() < 0.01


def test_decoder_rejection_falls_back_per_image(tiny, rgb, monkeypatch):
    datas = [jpeg_bytes(rgb, quality=q) for q in (70, 80, 90)]
    real = images_mod.decode_jpeg

    def picky(inp, **kw):  # like nvJPEG refusing one image: the batched call fails as a whole
        items = inp if isinstance(inp, list) else [inp]
        if any(t.numel() == len(datas[1]) for t in items):
            raise RuntimeError("nvjpeg: unsupported image")
        return real(inp, **kw)

    monkeypatch.setattr(images_mod, "decode_jpeg", picky)
    maker = BatchMaker([tiny.spec], CPU, "tensor", workers=1)
    try:
        batch = maker.make(_chunk(datas))
    finally:
        maker.close()
    assert batch.routes == {"jpeg": 2, "rejected-by-decoder": 1}
    expected = tiny.spec.standard_transform()(Image.open(io.BytesIO(datas[1])).convert("RGB"))
    assert torch.equal(batch.inputs[tiny.spec][1], expected)


@pytest.mark.parametrize("decode", ["tensor", "standard"])
def test_undecodable_image_is_an_error_naming_its_row(tiny, tmp_path, decode):
    datas, labels = synthetic_jpegs(40, 4, size=(80, 60))
    datas[29] = b"\xff\xd8 definitely not a jpeg body" + b"\xff\xd9"
    write_letitwag_parquet(tmp_path / "test.parquet", datas, labels, ["a", "b", "c", "d"])
    source = open_source(tmp_path)
    with pytest.raises(ImageDecodeError, match=r"^row 29: image bytes cannot be decoded"):
        evaluate([tiny], source, ["a", "b", "c", "d"], TEMPLATES, device=CPU, batch_size=8, decode=decode)


# ------------------------------------------------------------------------------------ preprocessing parity

@pytest.mark.parametrize("cfg", [
    {"size": 64},
    {"size": (64, 96)},  # non-square: ResizeKeepRatio + CenterCrop
    {"size": 64, "interpolation": "bilinear"},
    {"size": 64, "resize_mode": "squash"},
    {"size": 64, "resize_mode": "longest", "fill_color": 0},
    {"size": 224, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},  # upsampling
])
def test_tensor_preprocess_matches_open_clip_transform(cfg):
    spec = PreprocessSpec.from_cfg(cfg)
    rng = np.random.default_rng(1)
    datas = [jpeg_bytes(synthetic_image(rng, size, 1)) for size in [(400, 300), (300, 400), (123, 77), (400, 300)]]
    decoded = images_mod.decode_jpegs(datas, CPU)
    got = images_mod.preprocess_tensor(decoded, spec)
    standard = spec.standard_transform()
    expected = torch.stack([standard(Image.open(io.BytesIO(d)).convert("RGB")) for d in datas])
    assert got.shape == expected.shape
    # In 0..255 pixel levels: resize rounding differs by a level here and there, never by much.
    levels = (got - expected).abs() * torch.tensor(spec.std).view(1, 3, 1, 1) * 255
    assert levels.mean() < 0.5
    assert levels.max() <= 16


def test_top1_agreement_tensor_vs_standard_path(tiny, tmp_path):
    """Acceptance check: top-1 agreement of the tensor path with the standard PIL path, same model and
    images. Zero-shot predictions of a random-init model concentrate on few classes, so agreement is
    also measured with a nearest-class-mean classifier on centred image features, which is sensitive
    to small input differences."""
    n_classes = 20
    datas, labels = synthetic_jpegs(300, n_classes, seed=5)
    write_letitwag_parquet(tmp_path / "test.parquet", datas, labels, [f"c{i}" for i in range(n_classes)])
    source = open_source(tmp_path)
    names = [f"class {i}" for i in range(n_classes)]
    runs = {d: evaluate([tiny], source, names, TEMPLATES, device=CPU, batch_size=64, decode=d, amp=False)
            for d in ("tensor", "standard")}
    assert runs["tensor"].routes == {"jpeg": 300} and runs["standard"].routes == {"standard": 300}
    zero_shot = np.mean(runs["tensor"].predictions[0].top1 == runs["standard"].predictions[0].top1)

    feats = {}
    for d in ("tensor", "standard"):
        maker = BatchMaker([tiny.spec], CPU, d, workers=2)
        with torch.no_grad():
            feats[d] = torch.cat([F.normalize(tiny.model.encode_image(b.inputs[tiny.spec]), dim=-1)
                                  for b in iter_batches(source, maker, 64)])
        maker.close()
    mean = feats["standard"].mean(0)
    centred = {d: F.normalize(f - mean, dim=-1) for d, f in feats.items()}
    y = np.array(labels)
    weights = F.normalize(torch.stack([centred["standard"][y == c].mean(0) for c in range(n_classes)]), dim=-1)
    ncm = {d: (c @ weights.T).argmax(1).numpy() for d, c in centred.items()}
    assert len(np.unique(ncm["standard"])) >= n_classes // 2  # predictions are spread, not degenerate
    ncm_agreement = np.mean(ncm["tensor"] == ncm["standard"])
    print(f"top-1 agreement tensor vs standard path: zero-shot {zero_shot:.4f}, "
          f"nearest-class-mean {ncm_agreement:.4f} (n=300)")
    assert zero_shot >= 0.995
    assert ncm_agreement >= 0.995


# ------------------------------------------------------------------------------------------ classifier

def test_batched_classifier_equals_clip_benchmark(tiny):
    from clip_benchmark.metrics.zeroshot_classification import zero_shot_classifier as reference

    names = ["Acadian Flycatcher", "A300B4", "guenon", "Shih Tzu", "red panda"]
    templates = clip_templates()[::4]
    ours = zero_shot_classifier(tiny.model, tiny.tokenizer, names, templates, CPU, amp=False, batch_size=37)
    theirs = reference(tiny.model, tiny.tokenizer, names, templates, "cpu", amp=False)
    assert ours.shape == theirs.shape == (32, len(names))
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_text_encoding_cut_after_eot_equals_full_context(tiny):
    from letitwag_bench.fasteval.engine import encode_text

    tokens = tiny.tokenizer(["a photo of a guenon.", "itap of a very long named Red naped Sapsucker bird today.", "x"])
    assert int(tokens.argmax(-1).max()) < 20  # the cut is real: far fewer than 77 positions
    with torch.no_grad():
        torch.testing.assert_close(encode_text(tiny.model, tokens), tiny.model.encode_text(tokens),
                                   atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------------ multi-model

def test_many_models_in_one_pass_equal_each_alone(tmp_path):
    models = [
        LoadedModel.load(save_tiny_clip(tmp_path / "a", seed=1), None, CPU),
        LoadedModel.load(save_tiny_clip(tmp_path / "b", seed=2), None, CPU),  # same preprocessing as a
        LoadedModel.load(save_tiny_clip(tmp_path / "c", seed=3, image_size=96,
                                        preprocess_cfg={"mean": [0.5] * 3, "std": [0.5] * 3}), None, CPU),
    ]
    assert models[0].spec == models[1].spec != models[2].spec
    datas, labels = synthetic_jpegs(50, 5, seed=7, size=(160, 120))
    datas[3] = png_bytes(Image.open(io.BytesIO(datas[3])))
    write_letitwag_parquet(tmp_path / "d" / "test.parquet", datas, labels, list("abcde"))
    source = open_source(tmp_path / "d")
    names = ["ant", "bee", "cat", "dog", "eel"]
    for decode in ("tensor", "standard"):
        together = evaluate(models, source, names, TEMPLATES, device=CPU, batch_size=16, decode=decode, amp=False)
        assert together.n_images == 50
        for m, pred in zip(models, together.predictions, strict=True):
            alone = evaluate([m], source, names, TEMPLATES, device=CPU, batch_size=16, decode=decode, amp=False)
            np.testing.assert_array_equal(pred.topk, alone.predictions[0].topk)
            np.testing.assert_array_equal(pred.labels, np.array(labels))
    # the models differ, so the equality above is not vacuous
    assert not np.array_equal(together.predictions[0].topk, together.predictions[1].topk)


@pytest.mark.parametrize("decode", ["tensor", "standard"])
def test_each_image_is_decoded_once_for_many_models(tmp_path, monkeypatch, decode):
    from letitwag_bench.fasteval import engine

    calls = {"pil": 0, "jpeg": 0}
    real_pil, real_jpegs = engine.decode_pil, engine.decode_jpegs

    def count_pil(data, row):
        calls["pil"] += 1
        return real_pil(data, row)

    def count_jpegs(datas, device):
        calls["jpeg"] += len(datas)
        return real_jpegs(datas, device)

    monkeypatch.setattr(engine, "decode_pil", count_pil)
    monkeypatch.setattr(engine, "decode_jpegs", count_jpegs)
    models = [LoadedModel.load(save_tiny_clip(tmp_path / f"m{s}", seed=s, image_size=size), None, CPU)
              for s, size in ((1, 64), (2, 64), (3, 96))]  # two preprocessing groups
    datas, labels = synthetic_jpegs(30, 3, seed=8, size=(96, 72))
    datas[4] = png_bytes(Image.open(io.BytesIO(datas[4])))
    write_letitwag_parquet(tmp_path / "d" / "test.parquet", datas, labels, list("abc"))
    run = evaluate(models, open_source(tmp_path / "d"), ["ant", "bee", "cat"], TEMPLATES, device=CPU,
                   batch_size=8, decode=decode)
    assert run.n_images == 30
    if decode == "tensor":
        assert calls == {"jpeg": 29, "pil": 1}
    else:
        assert calls == {"jpeg": 0, "pil": 30}


def test_metrics_match_clip_benchmark_definitions():
    from letitwag_bench.fasteval import Predictions

    topk = np.array([[0, 1, 2, 3, 4], [2, 1, 0, 3, 4], [4, 3, 2, 1, 0], [1, 0, 2, 3, 4]])
    labels = np.array([0, 1, 0, 0])
    m = Predictions(topk=topk, labels=labels, n_classes=6).metrics()
    assert m["acc1"] == pytest.approx(1 / 4)
    assert m["acc5"] == pytest.approx(1.0)
    assert m["mean_per_class_recall"] == pytest.approx((1 / 3 + 0 / 1) / 2)  # recall averaged over classes
    assert np.isnan(Predictions(topk=topk[:, :4], labels=labels, n_classes=4).metrics()["acc5"])


# ------------------------------------------------------------------------- CUDA (run where a GPU is lent)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_cuda_mixed_batch_fallbacks(tiny, rgb):
    cuda = torch.device("cuda")
    datas = [jpeg_bytes(rgb), png_bytes(rgb), jpeg_bytes(rgb.convert("CMYK")), jpeg_bytes(rgb.convert("L")),
             jpeg_bytes(rgb, progressive=True), jpeg_bytes(rgb, subsampling=0)]
    maker = BatchMaker([tiny.spec], cuda, "auto", workers=2)
    try:
        batch = next(iter_batches(_SingleChunk(datas), maker, batch_size=len(datas)))
    finally:
        maker.close()
    print(f"cuda routes: {dict(batch.routes)}")
    got = batch.inputs[tiny.spec].cpu()
    assert batch.inputs[tiny.spec].device.type == "cuda"
    assert batch.routes["png"] == batch.routes["cmyk-jpeg"] == batch.routes["grayscale-jpeg"] == 1
    standard = tiny.spec.standard_transform()
    for i, data in enumerate(datas):
        expected = standard(Image.open(io.BytesIO(data)).convert("RGB"))
        levels = (got[i] - expected).abs() * torch.tensor(tiny.spec.std).view(3, 1, 1) * 255
        assert levels.mean() < 1.0, i  # nvJPEG's IDCT differs from libjpeg's by about a level


class _SingleChunk:
    def __init__(self, datas: list[bytes]):
        self.datas = datas

    def chunks(self, size: int):
        yield _chunk(self.datas)


@needs_cuda
def test_cuda_top1_agreement_with_standard_cpu_path(tmp_path):
    n_classes = 20
    datas, labels = synthetic_jpegs(500, n_classes, seed=9)
    write_letitwag_parquet(tmp_path / "d" / "test.parquet", datas, labels, [f"c{i}" for i in range(n_classes)])
    source = open_source(tmp_path / "d")
    name = save_tiny_clip(tmp_path / "m", seed=4)
    names = [f"class {i}" for i in range(n_classes)]
    gpu = evaluate([LoadedModel.load(name, None, "cuda")], source, names, TEMPLATES, device="cuda", batch_size=128,
                   amp=False)
    cpu = evaluate([LoadedModel.load(name, None, CPU)], source, names, TEMPLATES, device=CPU, batch_size=128,
                   decode="standard", amp=False)
    assert gpu.routes == {"jpeg": 500}
    agreement = np.mean(gpu.predictions[0].top1 == cpu.predictions[0].top1)
    print(f"top-1 agreement, CUDA tensor path vs CPU standard path: {agreement:.4f} (n=500)")
    assert agreement >= 0.995
