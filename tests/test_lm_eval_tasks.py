"""The lm-evaluation-harness tasks: run through the real `lm_eval` console script and lm-eval's evaluator.

Expected values come from outside the code under test: the dummy model's logged log-likelihoods (the
concept probe) and a fake vision-language model whose answers are fixed by a rule written here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import letitwag_bench
from letitwag_bench import stats
from letitwag_bench.concepts import concept_key, display_name, strip_domain_suffix
from letitwag_bench.counts import load_counts
from letitwag_bench.harness import lm_eval as harness

pytest.importorskip("lm_eval")
import lm_eval.models  # noqa: F401  (registers lm-eval's own models before the test model below)
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.tasks import TaskManager

REPO = Path(__file__).resolve().parents[1]
METRICS = ("acc", "slope", "slope_ci_low", "slope_ci_high", "tail_acc", "chance")


def _offline_env() -> dict[str, str]:
    """Environment for a subprocess that imports this checkout's package and cannot reach the Hub."""
    src = str(Path(letitwag_bench.__file__).resolve().parents[1])
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


# ---------------------------------------------------------------------------------------------------
# Task files and `letitwag tasks-path`


def test_tasks_path_holds_the_task_files_and_the_checkout_links_to_it():
    from typer.testing import CliRunner

    from letitwag_bench.cli import app

    result = CliRunner().invoke(app, ["tasks-path"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.is_absolute()
    names = {p.name for p in path.iterdir()}
    assert {"letitwag_vlm.yaml", "letitwag_concepts_lm.yaml", "_letitwag.yaml"} <= names
    if (REPO / "tasks" / "lm_eval").exists():  # source checkout: tasks/lm_eval is the same folder
        assert (REPO / "tasks" / "lm_eval").resolve() == path
    manager = TaskManager(include_path=str(path), include_defaults=False)
    assert {"letitwag", "letitwag_vlm", "letitwag_concepts_lm"} <= set(manager.all_tasks)


# ---------------------------------------------------------------------------------------------------
# letitwag_concepts_lm through the real console script


def _independent_correct(sample: dict) -> int:
    """Correctness from the logged requests and log-likelihoods: the gold choice has the best
    log-likelihood on the question minus on the question about "N/A" (the rule the task documents)."""
    doc = sample["doc"]
    requests = list(sample["arguments"].values())
    lls = [float(ll) for ll, _ in sample["filtered_resps"]]
    with_q = {r["arg_1"].strip(): ll for r, ll in zip(requests, lls, strict=True)
              if f'"{doc["name"]}"' in r["arg_0"]}
    without = {r["arg_1"].strip(): ll for r, ll in zip(requests, lls, strict=True) if '"N/A"' in r["arg_0"]}
    assert len(requests) == 2 * len(doc["choices"])
    assert set(with_q) == set(without) == set(doc["choices"])
    scores = [with_q[c] - without[c] for c in doc["choices"]]
    return int(int(np.argmax(scores)) == doc["gold"])


@pytest.mark.slow
def test_lm_eval_cli_concepts_probe_reports_the_fit_of_its_logged_samples(tmp_path):
    script = shutil.which("lm_eval") or str(Path(sys.executable).with_name("lm_eval"))
    out = tmp_path / "out"
    cmd = [script, "--model", "dummy", "--tasks", "letitwag_concepts_lm",
           "--include_path", str(harness.tasks_path()), "--limit", "300", "--log_samples",
           "--output_path", str(out)]
    run = subprocess.run(cmd, env=_offline_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (results_path,) = out.rglob("results_*.json")
    (samples_path,) = out.rglob("samples_letitwag_concepts_lm_*.jsonl")
    reported = json.loads(results_path.read_text())["results"]["letitwag_concepts_lm"]
    assert all(np.isfinite(reported[f"{m},none"]) for m in METRICS)

    samples = [json.loads(line) for line in samples_path.read_text().splitlines()]
    assert len(samples) == 300
    rows = []
    for s in samples:
        doc, record = s["doc"], s["acc"]
        assert record["concept"] == doc["concept"] and record["count"] == doc["count"]
        assert record["log_count"] == pytest.approx(np.log10(max(doc["count"], 1)))
        assert record["correct"] == _independent_correct(s)
        rows.append((doc["concept"], doc["category"], doc["count"], _independent_correct(s)))
    # Interleaved by category: the first 300 documents cover all ten categories.
    assert len({s["doc"]["category"] for s in samples}) == 10
    frame = pd.DataFrame(rows, columns=["concept", "category", "count", "correct"]).sort_values("concept")
    assert frame["concept"].is_unique  # one document per concept
    fit = stats.fit_scaling(frame["correct"].to_numpy(float), frame["count"].to_numpy(),
                            n=np.ones(len(frame), dtype=np.int64))
    assert reported["acc,none"] == pytest.approx(frame["correct"].mean(), abs=1e-12)
    assert reported["slope,none"] == fit.slope
    assert reported["slope_ci_low,none"] == fit.slope_ci_low
    assert reported["slope_ci_high,none"] == fit.slope_ci_high
    assert reported["tail_acc,none"] == pytest.approx(fit.tail_accuracy / 100, abs=1e-12)
    assert reported["chance,none"] == pytest.approx(0.1)
    within = []  # (slope, concepts) of each category the fit accepts
    for _, group in frame.groupby("category"):
        try:
            fit_c = stats.fit_scaling(group["correct"].to_numpy(float), group["count"].to_numpy(),
                                      n=np.ones(len(group), dtype=np.int64))
        except stats.StatsError:  # e.g. every count of the category 0 in this subset
            continue
        if np.isfinite(fit_c.slope):
            within.append((fit_c.slope, int(group["count"].notna().sum())))
    assert within
    assert reported["slope_within,none"] == pytest.approx(
        sum(b * k for b, k in within) / sum(k for _, k in within), abs=1e-9)

    # The reader used by `letitwag submit` gives the same per-concept table.
    ((info, benchmark, table),) = harness.read_outputs(results_path, [samples_path])
    assert benchmark == "letitwag_concepts_lm"
    assert info["model"] == "dummy" and info["harness"] == "lm-eval"
    assert info["counts_corpus"] == "laion400m" and info["counts_method"] == "text"
    assert info["metrics"]["slope"] == fit.slope
    assert list(table.columns) == list(harness.CONCEPT_COLUMNS)
    merged = table.merge(frame, on="concept", suffixes=("", "_expected"))
    assert len(merged) == len(frame) == len(table)
    assert (merged["correct"] == merged["correct_expected"]).all()
    assert (merged["count"] == merged["count_expected"]).all()
    assert (merged["n"] == 1).all()


# ---------------------------------------------------------------------------------------------------
# letitwag_vlm through the evaluator with a fake multimodal model

# Real hosted labels (suffixed) of three domains; the fake model recognises images by their pixels.
VLM_LABELS = ["A300B4_aircraft", "A310_aircraft", "An-12_aircraft", "Acadian_Flycatcher_bird",
              "Alder_Flycatcher_bird", "Affenpinscher", "African_rock_python"]
IMAGES_PER_CLASS = 3


def _fake_answer(label: int, rank: int, options: list[str]) -> str:
    """The fake model's rule: even classes right in three formats, class 1 right on its first image only,
    other odd classes wrong, naming a wrong option."""
    truth = display_name(VLM_LABELS[label], letitwag_label=True)
    right = "ABCD"[options.index(truth)]
    wrong = next(o for o in options if o != truth)
    if label % 2 == 0 or (label == 1 and rank == 0):
        return [right, f"{right}. {truth}", f"The answer is ({right})."][rank]
    return f"It is the {wrong}."


def _expected_accuracy(label: int) -> float:
    return 1.0 if label % 2 == 0 else 1 / IMAGES_PER_CLASS if label == 1 else 0.0


@register_model("letitwag-test-vlm")
class FakeVLM(LM):
    MULTIMODAL = True

    def __init__(self, **kwargs) -> None:
        super().__init__()

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        out = []
        for request in requests:
            context, _, aux = request.args
            (image,) = aux["visual"]
            red, green, _ = image.getpixel((0, 0))
            options = re.findall(r"^[A-D]\. (.+)$", context, flags=re.MULTILINE)
            assert context.startswith("<image>") and len(options) == 4
            out.append(_fake_answer(red // 20, green // 20, options))
        return out

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


def _write_mini_letitwag(path: Path, *, label_feature: str = "classlabel") -> Path:
    """A parquet with Let It Wag!'s features; pixel (0, 0) encodes (label, rank within class)."""
    rows = [(label, rank) for rank in range(IMAGES_PER_CLASS) for label in range(len(VLM_LABELS))]
    rows = sorted(rows, key=lambda r: (r[0] * 7 + r[1] * 3) % len(rows))  # scrambled order
    images = [Image.new("RGB", (8, 8), (20 * label, 20 * rank, 0)) for label, rank in rows]
    label = (datasets.ClassLabel(names=VLM_LABELS) if label_feature == "classlabel"
             else datasets.Value("int64"))
    features = datasets.Features({"image": datasets.Image(), "label": label})
    ds = datasets.Dataset.from_dict({"image": images, "label": [r[0] for r in rows]}, features=features)
    ds.to_parquet(str(path))
    return path


def test_vlm_task_through_the_evaluator_gives_the_fake_models_per_concept_accuracy(tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    manager = TaskManager(include_path=str(harness.tasks_path()), include_defaults=False,
                          metadata={"letitwag_data": str(data)})
    results = simple_evaluate(model="letitwag-test-vlm", tasks=["letitwag_vlm"], task_manager=manager,
                              log_samples=True, bootstrap_iters=0)
    samples = results.pop("samples")
    assert len(samples["letitwag_vlm"]) == len(VLM_LABELS) * IMAGES_PER_CLASS
    # Write the files as the console script does, and read them back as `letitwag submit` will.
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"))
    tracker.general_config_tracker.log_experiment_args(model_source="letitwag-test-vlm", model_args="",
                                                       system_instruction=None, chat_template=None,
                                                       fewshot_as_multiturn=False)
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name="letitwag_vlm", samples=samples["letitwag_vlm"])
    (results_path,) = (tmp_path / "out").rglob("results_*.json")
    (samples_path,) = (tmp_path / "out").rglob("samples_letitwag_vlm_*.jsonl")
    ((info, benchmark, table),) = harness.read_outputs(results_path, [samples_path])

    assert benchmark == "letitwag_vlm" and info["counts_method"] == "image"
    expected = {concept_key(name, letitwag_label=True): _expected_accuracy(i)
                for i, name in enumerate(VLM_LABELS)}
    assert dict(zip(table["concept"], table["accuracy"], strict=True)) == pytest.approx(expected)
    assert (table["n"] == IMAGES_PER_CLASS).all() and (table["dataset"] == "letitwag").all()
    counts = load_counts("bundled").concept_counts("laion400m", "image", dataset="letitwag")
    assert dict(zip(table["concept"], table["count"], strict=True)) == {c: counts[c] for c in expected}

    reported = results["results"]["letitwag_vlm"]
    assert reported["acc,none"] == pytest.approx(np.mean(list(expected.values())))
    assert reported["chance,none"] == pytest.approx(0.25)
    order = sorted(expected)
    fit = stats.fit_scaling(np.array([expected[c] for c in order]), np.array([counts[c] for c in order]),
                            n=np.full(len(order), IMAGES_PER_CLASS))
    assert reported["slope,none"] == pytest.approx(fit.slope, abs=1e-9)
    assert reported["slope_ci_low,none"] == pytest.approx(fit.slope_ci_low, abs=1e-9)
    assert reported["tail_acc,none"] == pytest.approx(fit.tail_accuracy / 100, nan_ok=True)


def _tiny_llava(folder: Path) -> Path:
    """A random-init LLaVA (CLIP vision tower + Llama) with a character-level tokenizer, saved locally."""
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:?!'\"()-_ \n"
    vocab = {t: i for i, t in enumerate([*specials, *chars])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<pad>", additional_special_tokens=["<image>"])
    torch.manual_seed(0)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=28, patch_size=14, projection_dim=16),
        text_config=LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=2, bos_token_id=1, eos_token_id=2,
                                pad_token_id=3),
        image_token_index=vocab["<image>"], vision_feature_layer=-1, vision_feature_select_strategy="full",
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    # "full" features keep CLIP's class token: one image token more than the 2x2 patches.
    LlavaProcessor(image_processor=image_processor, tokenizer=fast, patch_size=14, num_additional_image_tokens=1,
                   vision_feature_select_strategy="full").save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_vlm_task_runs_on_lm_evals_own_hf_multimodal_model(tmp_path):
    """The prompt's <image> placeholder and the image argument work with lm-eval's real HF VLM class
    (a tiny random LLaVA: its answers are noise, the plumbing is the point)."""
    pytest.importorskip("accelerate")  # lm-eval's HF models import it
    pytest.importorskip("transformers")
    from lm_eval import simple_evaluate

    model = _tiny_llava(tmp_path / "tiny-llava")
    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    manager = TaskManager(include_path=str(harness.tasks_path()), include_defaults=False,
                          metadata={"letitwag_data": str(data)})
    results = simple_evaluate(model="hf-multimodal", model_args={"pretrained": str(model), "dtype": "float32"},
                              device="cpu", tasks=["letitwag_vlm"], task_manager=manager, limit=len(VLM_LABELS),
                              log_samples=True, bootstrap_iters=0)
    samples = results["samples"]["letitwag_vlm"]
    assert len(samples) == len(VLM_LABELS)
    assert {s["doc"]["concept"] for s in samples} == {concept_key(n, letitwag_label=True) for n in VLM_LABELS}
    for s in samples:
        assert isinstance(s["resps"][0][0], str)
        expected = int(harness.parse_choice(s["resps"][0][0], s["doc"]["options"]) == s["doc"]["answer"])
        assert s["acc"]["correct"] == expected
    assert results["results"]["letitwag_vlm"]["chance,none"] == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------------
# Malformed metadata


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"letitwag_data": "{tmp}/missing.parquet"}, r"letitwag_data=.*missing\.parquet.*no such file"),
        ({"letitwag_data": "{data}", "letitwag_split": "test"},
         r"split 'test' not found in .*mini\.parquet; available splits: train"),
        ({"letitwag_data": "{data}", "letitwag_dat": "x"}, r"unknown --metadata key\(s\) \['letitwag_dat'\]"),
        ({"letitwag_data": "{data}", "letitwag_corpus": "laion9b"},
         r"unknown corpus 'laion9b'.*valid corpora"),
        ({"letitwag_data": "{tmp}/notes.txt"}, r"a file must be \.parquet"),
    ],
)
def test_malformed_metadata_is_a_clear_error_when_lm_eval_builds_the_task(tmp_path, metadata, message):
    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    metadata = {k: v.format(tmp=tmp_path, data=data) for k, v in metadata.items()}
    manager = TaskManager(include_path=str(harness.tasks_path()), include_defaults=False, metadata=metadata)
    with pytest.raises(harness.TaskDataError, match=message):
        manager.load(["letitwag_vlm"])


@pytest.mark.parametrize("layout", ["parquet file", "hub snapshot folder", "save_to_disk folder"])
def test_local_copies_of_the_dataset_load_alike(tmp_path, layout):
    single = _write_mini_letitwag(tmp_path / "mini.parquet")
    if layout == "parquet file":
        data = single
    elif layout == "hub snapshot folder":  # the Hub's layout: data/train-0000k-of-0000n-*.parquet shards
        data = tmp_path / "Let-It-Wag"
        ds = datasets.load_dataset("parquet", data_files=str(single), split="train")
        for k in range(2):
            ds.shard(2, k).to_parquet(str(data / "data" / f"train-0000{k}-of-00002-abc.parquet"))
    else:
        data = tmp_path / "saved"
        datasets.load_dataset("parquet", data_files=str(single)).save_to_disk(str(data))
    docs = harness.load_vlm_dataset(letitwag_data=str(data))["test"]
    reference = harness.load_vlm_dataset(letitwag_data=str(single))["test"]
    assert sorted(zip(docs["concept"], docs["answer"], strict=True)) == sorted(
        zip(reference["concept"], reference["answer"], strict=True))


def test_counts_come_from_the_source_corpus_and_method_in_metadata(tmp_path):
    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    custom = tmp_path / "counts.csv"
    custom.write_text("concept,count\nA300B4,5\nAcadian_Flycatcher,123456\n")
    docs = harness.load_vlm_dataset(letitwag_data=str(data), letitwag_counts=str(custom),
                                    letitwag_corpus="custom", letitwag_method="custom")["test"]
    counts = dict(zip(docs["concept"], docs["count"], strict=True))
    assert counts["a300b4"] == 5 and counts["acadian flycatcher"] == 123456 and counts["a310"] is None
    assert set(docs["counts_source"]) == {str(custom)} and set(docs["counts_method"]) == {"custom"}
    text = harness.load_vlm_dataset(letitwag_data=str(data), letitwag_method="text")["test"]
    expected = load_counts("bundled").concept_counts("laion400m", "text", dataset="letitwag")
    assert all(c == expected[k] for k, c in zip(text["concept"], text["count"], strict=True))


@pytest.mark.skipif(os.environ.get("HF_DATASETS_OFFLINE") != "1", reason="would try the Hub; run offline")
def test_a_missing_folder_that_looks_like_a_hub_id_says_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(harness.TaskDataError, match=r"could not load the Hugging Face dataset copies/letitwag "
                                                     r"\(nor is there a local file or folder .*copies/letitwag\)"):
        harness.load_vlm_dataset(letitwag_data="copies/letitwag")


def test_a_label_column_without_class_names_is_rejected(tmp_path):
    data = _write_mini_letitwag(tmp_path / "ints.parquet", label_feature="int")
    with pytest.raises(harness.TaskDataError, match=r"column 'label' must be a ClassLabel"):
        harness.load_vlm_dataset(letitwag_data=str(data))


def test_model_args_in_metadata_are_ignored_and_non_string_values_rejected(tmp_path):
    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    docs = harness.load_vlm_dataset(letitwag_data=str(data), pretrained="org/model", version=1.0)["test"]
    assert len(docs) == len(VLM_LABELS) * IMAGES_PER_CLASS
    with pytest.raises(harness.TaskDataError, match=r"letitwag_split must be a non-empty string"):
        harness.load_vlm_dataset(letitwag_data=str(data), letitwag_split=3)


# ---------------------------------------------------------------------------------------------------
# Documents, prompts and parsing


def test_vlm_documents_interleave_classes_and_balance_answer_letters(tmp_path):
    data = _write_mini_letitwag(tmp_path / "mini.parquet")
    docs = harness.load_vlm_dataset(letitwag_data=str(data))["test"]
    first = docs.select(range(len(VLM_LABELS)))
    assert sorted(first["concept"]) == sorted(concept_key(n, letitwag_label=True) for n in VLM_LABELS)
    for doc in docs:
        label = VLM_LABELS[doc["image"].getpixel((0, 0))[0] // 20]
        assert doc["class_name"] == strip_domain_suffix(label)
        assert len(set(doc["options"])) == 4
        assert doc["options"]["ABCD".index(doc["answer"])] == display_name(label, letitwag_label=True)
        if doc["domain"] == "aircraft":  # three aircraft classes: the distractors include the other two
            others = {display_name(n, letitwag_label=True) for n in VLM_LABELS[:3] if n != label}
            assert others <= set(doc["options"])
    per_class = pd.DataFrame({"concept": docs["concept"], "answer": docs["answer"]})
    # Three images per class take three different letters (the letter cycles with the image's rank).
    assert (per_class.groupby("concept")["answer"].nunique() == IMAGES_PER_CLASS).all()
    again = harness.load_vlm_dataset(letitwag_data=str(data))["test"]
    assert again["options"] == docs["options"] and again["answer"] == docs["answer"]


@pytest.mark.parametrize(
    ("response", "expected"),
    [("B", "B"), (" (C)", "C"), ("D.", "D"), ("A. Boeing 707", "A"), ("The answer is C.", "C"),
     ("It is an Airbus A310.", "B"), ("A Boeing 707, I think", "A"), ("I cannot tell.", None),
     ("Airbus A310 or Boeing 707", None), ("E", None)],
)
def test_parse_choice(response, expected):
    assert harness.parse_choice(response, ["Boeing 707", "Airbus A310", "An-12", "C-47"]) == expected


def test_concept_probe_leaves_out_homonyms_and_classes_without_a_category():
    frame = harness.concept_categories().set_index("concept")
    assert frame.loc["turkey", "excluded"].startswith("ambiguous")  # a country, and a bird: wild turkey
    assert frame.loc["affenpinscher", "excluded"] == "no category among the choices"  # ImageNet-only dog
    assert frame.loc["acadian flycatcher", "category"] == "bird"
    assert frame.loc["acadian flycatcher", "in_letitwag"]
    assert frame.loc["acadian flycatcher", "class_name"] == "Acadian_Flycatcher"  # Let It Wag!'s spelling
    assert frame.loc["apple pie", "name"] == "apple pie"  # food101's apple_pie, for the prompt
    kept = frame[frame["excluded"] == ""]
    assert set(kept["category"]) == set(harness.CATEGORY_CHOICES)
    docs = harness.load_concepts_dataset()["test"]
    assert len(docs) == len(kept)
    assert docs[0]["choices"] == list(harness.CATEGORY_CHOICES.values())
    assert all(d["choices"][d["gold"]] == harness.CATEGORY_CHOICES[d["category"]]
               for d in docs.select(range(50)))


def test_slope_within_removes_a_difference_between_categories():
    """Two categories, each with accuracy rising 5 points per decade of count, the rare one far less
    accurate: the pooled slope mixes in the gap between them, the within-category slope is 5."""
    items = []
    for category, base, decades in (("bird", 2, range(3)), ("country", 7, range(3, 6))):
        for x in decades:
            for copy in range(2):
                concept = f"{category} {x} {copy}"
                correct = base + x  # of 20 documents: accuracy (base + x) / 20
                items += [{"concept": concept, "class_name": concept, "dataset": "d", "category": category,
                           "count": 10**x, "correct": int(i < correct)} for i in range(20)]
    assert harness.agg_slope_within(items) == pytest.approx(5.0)
    assert harness.agg_slope(items) > 8


def test_read_outputs_rejects_files_that_are_not_letitwag_output(tmp_path):
    bad = tmp_path / "results_x.json"
    bad.write_text("{not json")
    with pytest.raises(harness.OutputsError, match=r"results_x\.json: not a readable JSON file"):
        harness.read_outputs(bad, [])
    other = tmp_path / "results_2026-01-01T00-00-00.json"
    other.write_text(json.dumps({"results": {"hellaswag": {"acc,none": 0.5}}}))
    with pytest.raises(harness.OutputsError, match=r"no letitwag task in 'results'"):
        harness.read_outputs(other, [])
    ours = tmp_path / "results_2026-01-01T00-00-01.json"
    ours.write_text(json.dumps({"results": {"letitwag_vlm": {"acc,none": 0.5}}}))
    with pytest.raises(harness.OutputsError, match=r"no samples file given for task 'letitwag_vlm'"):
        harness.read_outputs(ours, [])
    samples = tmp_path / "samples_letitwag_vlm_2026-01-01T00-00-01.jsonl"
    samples.write_text(json.dumps({"doc": {}, "acc": {"concept": "x"}}) + "\n")
    with pytest.raises(harness.OutputsError, match=r"line 1: 'acc' record lacks"):
        harness.read_outputs(ours, [samples])
