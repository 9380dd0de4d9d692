"""In-process tests of the clip_benchmark glue: no console script, no hook needed."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from _clip_benchmark_support import PTH, hook_active, save_tiny_model, synthetic_images, write_letitwag_parquet

from letitwag_bench import counts as counts_module
from letitwag_bench.concept_results import SIDECAR_COLUMNS, sidecar_path
from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import load_counts
from letitwag_bench.counts_choice import infer_corpus
from letitwag_bench.datasets.templates import clip_templates
from letitwag_bench.harness import _clip_benchmark_hook as hook
from letitwag_bench.harness import clip_benchmark as glue

torch = pytest.importorskip("torch")


def test_letitwag_name_matches_counts():
    assert glue.LETITWAG == counts_module.LETITWAG


@pytest.mark.parametrize(("tag", "corpus"), [
    ("laion400m_e32", "laion400m"), ("laion400m_s13b_b51k", "laion400m"), ("cc12m", "cc12m"), ("yfcc15m", "yfcc15m"),
    ("cc3m", "cc3m"), ("/ckpt/RN50_cc3m_epoch_30.pt", "cc3m"), ("openai", None), ("laion2b_s34b_b79k", None),
    ("datacomp_xl_s13b_b90k", None), ("mycc12mx", None),
])
def test_infer_corpus(tag, corpus):
    assert infer_corpus(tag) == corpus


def test_choose_counts_proxy_and_overrides(monkeypatch):
    for var in ("LETITWAG_COUNTS", "LETITWAG_CORPUS", "LETITWAG_METHOD"):
        monkeypatch.delenv(var, raising=False)
    own = glue.choose_counts("cc12m", "letitwag")
    assert (own.corpus, own.method, own.is_proxy) == ("cc12m", "integrated_tlemmatized_i0.7", False)
    proxy = glue.choose_counts("openai", "letitwag")
    assert (proxy.corpus, proxy.is_proxy) == ("laion400m", True)
    monkeypatch.setenv("LETITWAG_CORPUS", "yfcc15m")
    monkeypatch.setenv("LETITWAG_METHOD", "text")
    chosen = glue.choose_counts("cc12m", "imagenet")
    assert (chosen.corpus, chosen.method, chosen.is_proxy) == ("yfcc15m", "lemmatized", True)
    monkeypatch.setenv("LETITWAG_CORPUS", "nope")
    with pytest.raises(counts_module.CountsError, match="valid corpora"):
        glue.choose_counts("cc12m", "imagenet")


@pytest.mark.parametrize(("dataset", "corpus", "method"), [
    ("letitwag", "laion400m", "matched"), ("letitwag", "cc3m", "text"), ("imagenet", "yfcc15m", "image"),
    ("imagenet-r", "laion400m", "matched"), ("stanfordcars", "cc12m", "matched"), ("sun397", "laion400m", "text"),
])
def test_bundled_fast_path_matches_counts_table(monkeypatch, dataset, corpus, method):
    monkeypatch.delenv("LETITWAG_COUNTS", raising=False)
    monkeypatch.setenv("LETITWAG_CORPUS", corpus)
    monkeypatch.setenv("LETITWAG_METHOD", method)
    table = load_counts("bundled")
    choice = glue.choose_counts("x", dataset)
    expected = table.concept_counts(corpus, method, dataset=dataset)
    assert choice.counts.sort_index().to_dict() == expected.sort_index().to_dict()
    assert (choice.source, choice.revision) == (table.source, table.revision)
    assert glue.counted_concepts(dataset) == set(table.classes(dataset)["concept"])


def test_sidecar_path():
    assert sidecar_path("out/a_b.json") == Path("out/a_b.concepts.csv")
    assert sidecar_path("results") == Path("results.concepts.csv")


def test_accuracy_matches_numpy_reference():
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(50, 7)), rng.integers(0, 7, 50)
    order = np.argsort(-logits, axis=1)
    expected = [float(np.mean([t in row[:k] for t, row in zip(target, order, strict=True)])) for k in (1, 5)]
    got = glue.accuracy(torch.tensor(logits), torch.tensor(target), topk=(1, 5))
    assert got == pytest.approx(expected, abs=1e-12)


def test_default_templates_are_clip_benchmarks_80():
    import clip_benchmark.datasets.builder as builder

    shipped = json.loads((Path(builder.__file__).parent / "en_zeroshot_classification_templates.json").read_text())
    templates = clip_templates("en", None, ["letitwag"])
    assert templates == shipped["imagenet1k"] and len(templates) == 80


def _strat(concepts: list[str]) -> glue.Stratification:
    return glue.Stratification(dataset="letitwag", class_names=[c.title() for c in concepts], class_concepts=concepts)


def test_stratify_joins_counts_and_counts_correct():
    table = load_counts("bundled")
    known = list(table.concept_counts("laion400m", "matched", dataset="letitwag").index[:8])
    concepts = [*known, "not a counted concept"]
    # class i gets i+1 samples, of which the first min(i, i+1) are right
    targets = np.repeat(np.arange(len(concepts)), np.arange(1, len(concepts) + 1))
    predictions = targets.copy()
    first = np.r_[0, np.cumsum(np.arange(1, len(concepts) + 1))[:-1]]
    predictions[first] = (targets[first] + 1) % len(concepts)  # first sample of every class wrong
    choice = glue.choose_counts("laion400m_e32", "letitwag")
    result = glue.stratify(predictions, targets, _strat(concepts), choice, n_bootstrap=50)
    got = result.table.set_index("concept")
    assert list(result.table.columns) == list(SIDECAR_COLUMNS)
    for i, c in enumerate(concepts):
        assert (got.loc[c, "n"], got.loc[c, "correct"]) == (i + 1, i)
    counts = table.concept_counts("laion400m", "matched", dataset="letitwag")
    assert (got.loc[known, "count"].to_numpy() == counts[known].to_numpy()).all()
    assert got["count"].isna().sum() == 1 == result.metrics["n_concepts_without_count"]
    assert result.metrics["n_concepts"] == len(known)
    assert result.metrics["counts_corpus_is_proxy"] is False


def test_stratify_reports_a_failed_fit():
    table = load_counts("bundled")
    known = list(table.concept_counts("laion400m", "matched", dataset="letitwag").index[:1])
    choice = glue.choose_counts("laion400m_e32", "letitwag")
    result = glue.stratify(np.array([0, 0]), np.array([0, 0]), _strat(known), choice, n_bootstrap=50)
    assert result.metrics["slope"] is None and result.metrics["letitwag_error"]
    assert len(result.table) == 1


def _fake_builder():
    calls = []

    def build_dataset(dataset_name, root="root", transform=None, split="test", download=True, annotation_file=None,
                      language="en", task="zeroshot_classification", wds_cache_dir=None, custom_classname_file=None,
                      custom_template_file=None, **kwargs):
        calls.append((dataset_name, root, split, task, kwargs))
        return types.SimpleNamespace(classes=["goldfish", "great white shark"], templates=["{c}"])

    module = types.ModuleType("clip_benchmark.datasets.builder")
    module.build_dataset = build_dataset
    return module, calls


def test_build_dataset_passes_plain_names_through_and_is_installed_once():
    module, calls = _fake_builder()
    original = module.build_dataset
    glue.install(module)
    wrapped = module.build_dataset
    glue.install(module)
    assert module.build_dataset is wrapped and wrapped.__wrapped__ is original
    ds = wrapped("cifar10", "r", None, "train", extra=1)
    assert calls == [("cifar10", "r", "train", "zeroshot_classification", {"extra": 1})]
    assert not hasattr(ds, "letitwag_stratification")


def test_build_dataset_stratified_name():
    module, calls = _fake_builder()
    glue.install(module)
    ds = module.build_dataset("letitwag/imagenet-r", root="data", split="test")
    assert calls[-1][0] == "imagenet-r"
    strat = ds.letitwag_stratification
    assert strat.dataset == "imagenet-r" and strat.class_concepts == ["goldfish", "great white shark"]
    with pytest.raises(ValueError, match="letitwag/imagenet1k"):
        module.build_dataset("letitwag/mnist")
    with pytest.raises(ValueError, match="zeroshot_classification"):
        module.build_dataset("letitwag/imagenet-r", task="linear_probe")


def test_hook_matches_only_its_targets(monkeypatch):
    assert hook.find_spec("json") is None
    assert hook.find_spec("clip_benchmark") is None
    monkeypatch.setenv("LETITWAG_CLIP_BENCHMARK", "off")
    assert hook.find_spec("clip_benchmark.cli", None) is None
    monkeypatch.delenv("LETITWAG_CLIP_BENCHMARK")
    import clip_benchmark

    spec = hook.find_spec("clip_benchmark.cli", clip_benchmark.__path__)
    assert spec is not None and isinstance(spec.loader, hook._PatchingLoader)


def test_pth_line_matches_the_hook_targets():
    line = (Path(__file__).parents[1] / "src" / PTH).read_text()
    assert line.startswith("import ") and line.count("\n") == 1
    assert all(f'"{t}"' in line for t in hook.TARGETS) and hook.FINDER_NAME in line


def test_pth_registers_once_and_degrades_without_the_package():
    """Run the .pth line twice in a bare interpreter (-S, no PYTHONPATH: letitwag_bench not importable)."""
    pth = Path(__file__).parents[1] / "src" / PTH
    code = (f"import sys, warnings; line = open({str(pth)!r}).read(); exec(line); exec(line)\n"
            "finders = [f for f in sys.meta_path if getattr(f, '__name__', '') == 'LetitwagClipBenchmarkFinder']\n"
            "print(len(finders), finders[0].find_spec('json'))\n"
            "with warnings.catch_warnings(record=True) as seen:\n"
            "    warnings.simplefilter('always')\n"
            "    print(finders[0].find_spec('clip_benchmark.cli'), 'hook unavailable' in str(seen[0].message))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "None", "None", "True"]


def test_installed_record_lists_the_pth():
    """`pip uninstall` removes exactly what RECORD lists: the .pth must be there."""
    if not hook_active():
        pytest.skip(f"letitwag-bench is not installed with its hook ({PTH}) in {sys.prefix}")
    files = [str(f) for f in importlib.metadata.files("letitwag-bench") or []]
    assert PTH in files


def test_load_letitwag_parquet_and_folders(tmp_path):
    from letitwag_bench.datasets import letitwag as lw

    labels = ["A300B4_aircraft", "Briard"]
    ds = lw.load_letitwag(write_letitwag_parquet(tmp_path / "pq", labels, 2))
    assert lw.label_names(ds) == labels and len(ds) == 4
    assert lw.class_display_names(ds) == ["A300B4", "Briard"]
    assert lw.class_concepts(ds) == [concept_key(n, letitwag_label=True) for n in labels]
    for label in labels:
        (tmp_path / "img" / label).mkdir(parents=True)
        for j, image in enumerate(synthetic_images(2, seed=1)):
            image.save(tmp_path / "img" / label / f"{j}.png")
    folders = lw.load_letitwag(tmp_path / "img")
    assert sorted(lw.label_names(folders)) == sorted(labels) and len(folders) == 4
    torch_ds = lw.LetItWagTorchDataset(folders, transform=lambda im: im.size)
    assert torch_ds[0][0] == (16, 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(lw.LetItWagError, match="empty"):
        lw.load_letitwag(tmp_path / "empty")


def test_load_letitwag_hub_failure_names_the_way_out(tmp_path, monkeypatch):
    from letitwag_bench.datasets import letitwag as lw

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(lw.datasets, "load_dataset", offline)
    with pytest.raises(lw.LetItWagError, match=r"bethgelab/Let-It-Wag.*does not exist.*--dataset_root"):
        lw.load_letitwag(tmp_path / "missing")


@pytest.fixture(scope="module")
def tiny_letitwag(tmp_path_factory):
    """A tiny open_clip model (as clip_benchmark loads it) and a 6-class Let It Wag!-shaped dataset."""
    import open_clip

    from letitwag_bench.datasets import letitwag as lw

    tmp = tmp_path_factory.mktemp("fast")
    model_dir = save_tiny_model(tmp / "model")
    model, _, transform = open_clip.create_model_and_transforms(f"local-dir:{model_dir}")
    model.eval()
    labels = list(load_counts("bundled").concept_counts("laion400m", "matched", dataset="letitwag").index[:6])
    ds = lw.load_letitwag(write_letitwag_parquet(tmp / "data", labels, per_class=4))
    torch_ds = lw.LetItWagTorchDataset(ds, transform, clip_templates("en", None, ["letitwag"])[:8])
    torch_ds.letitwag_stratification = glue.Stratification(
        dataset="letitwag", class_names=lw.sidecar_class_names(ds), class_concepts=lw.class_concepts(ds))
    return model, open_clip.get_tokenizer(f"local-dir:{model_dir}"), torch_ds


def test_fast_path_only_for_letitwag_on_cuda(tiny_letitwag, monkeypatch):
    model, _, ds = tiny_letitwag
    monkeypatch.delenv("LETITWAG_FAST_EVAL", raising=False)
    assert not glue.use_fast_path(model, ds, "cpu")
    if not torch.cuda.is_available():
        assert not glue.use_fast_path(model, ds, "cuda")  # clip_benchmark would fail there; not our call
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert glue.use_fast_path(model, ds, "cuda") and glue.use_fast_path(model, ds, torch.device("cuda:0"))
    assert not glue.use_fast_path(model, types.SimpleNamespace(), "cuda")  # a torchvision dataset: no bytes
    assert not glue.use_fast_path(torch.nn.Linear(1, 1), ds, "cuda")  # not open_clip: no preprocess_cfg
    assert not glue.use_fast_path(model, ds, "cuda", save_clf="clf.pt")
    assert not glue.use_fast_path(model, ds, "cuda", load_clfs=["clf.pt"])
    monkeypatch.setenv("LETITWAG_FAST_EVAL", "0")
    assert not glue.use_fast_path(model, ds, "cuda")


def test_fast_path_gives_clip_benchmarks_results(tiny_letitwag, monkeypatch):
    """The wrapped evaluate, forced onto the fast path (on CPU here), returns what the standard path does."""
    from clip_benchmark.metrics import zeroshot_classification as zsc

    model, tokenizer, ds = tiny_letitwag
    evaluate = glue._wrap_evaluate(zsc, zsc.evaluate)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=0)
    results = {}
    for fast in (False, True):
        monkeypatch.setattr(glue, "use_fast_path", lambda *a, fast=fast, **k: fast)
        glue._current = glue._Run(pretrained="laion400m_e32")
        try:
            metrics = evaluate(model, loader, tokenizer, ds.classes, ds.templates, device="cpu", amp=False)
            results[fast] = (metrics, glue._current.result.table)
        finally:
            glue._current = None
    (standard, standard_table), (fast, fast_table) = results[False], results[True]
    assert fast.keys() == standard.keys()
    assert {k: fast[k] for k in ("acc1", "acc5", "mean_per_class_recall")} == pytest.approx(
        {k: standard[k] for k in ("acc1", "acc5", "mean_per_class_recall")})
    assert fast_table.equals(standard_table)
    _, predictions, targets = glue.fast_evaluate(model, loader, tokenizer, ds.classes, ds.templates, "cpu", False)
    assert targets.tolist() == ds.ds["label"] and len(predictions) == len(ds)  # row order kept
