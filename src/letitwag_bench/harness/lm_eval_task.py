"""The lm-eval task class of ``letitwag_concepts_lm``: multiple choice plus content-free calibration.

Apart from :mod:`letitwag_bench.harness.lm_eval` because it imports lm-eval, which reading results
(``letitwag submit``) does not need.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

# Stands in for the concept's name in the calibration prompt (Zhao et al., 2021, "Calibrate before use").
CONTENT_FREE = "N/A"


class CalibratedConceptsTask(ConfigurableTask):
    """lm-eval's ``multiple_choice`` with, after the usual request per choice, the same request on the
    prompt whose quoted concept name is replaced by ``"N/A"``.

    :func:`letitwag_bench.harness.lm_eval.concepts_process_results` scores each choice by
    log p(choice | prompt) − log p(choice | content-free prompt): what the model prefers under this
    question whatever the concept cancels, and only what the name adds is scored.
    """

    def __init__(self, config: dict[str, Any] | None = None, **_: Any) -> None:
        # The YAML's own keys configure the task; `class` only named this class.
        super().__init__(config={k: v for k, v in (config or {}).items() if k != "class"})

    def construct_requests(self, doc: dict, ctx: str, **kwargs: Any) -> list[Instance]:
        requests = super().construct_requests(doc, ctx, **kwargs)
        quoted = f'"{doc["name"]}"'
        if not isinstance(ctx, str) or quoted not in ctx:
            raise ValueError(f"{self.config.task}: the prompt must quote the concept's name ({quoted}) so that "
                             f"it can be replaced for calibration; prompt: {ctx!r}")
        blank = ctx.replace(quoted, f'"{CONTENT_FREE}"')
        n = len(requests)
        return requests + [replace(r, arguments=(blank, *r.arguments[1:]), idx=n + r.idx, resps=[],
                                   filtered_resps={}) for r in requests]
