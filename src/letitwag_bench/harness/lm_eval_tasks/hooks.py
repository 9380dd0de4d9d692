"""The functions the task YAML names with ``!function hooks.NAME``.

lm-eval resolves ``!function`` to a module file beside the YAML (every 0.4.x release does; only newer
ones also try ordinary imports), so this file re-exports the implementation, which lives and is
tested in :mod:`letitwag_bench.harness.lm_eval`.
"""

from letitwag_bench.harness.lm_eval import (
    agg_acc,
    agg_slope,
    agg_slope_ci_high,
    agg_slope_ci_low,
    agg_slope_within,
    agg_tail_acc,
    concepts_process_results,
    load_concepts_dataset,
    load_vlm_dataset,
    vlm_doc_to_text,
    vlm_process_results,
)
from letitwag_bench.harness.lm_eval_task import CalibratedConceptsTask

__all__ = [
    "CalibratedConceptsTask",
    "agg_acc",
    "agg_slope",
    "agg_slope_ci_high",
    "agg_slope_ci_low",
    "agg_slope_within",
    "agg_tail_acc",
    "concepts_process_results",
    "load_concepts_dataset",
    "load_vlm_dataset",
    "vlm_doc_to_text",
    "vlm_process_results",
]
