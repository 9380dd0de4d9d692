"""index.html in a real headless Chromium: one row per model, sorting by slope reorders, plots and curves load.

The page is loaded from disk with a test script appended that clicks like a user would and writes what it
saw into the DOM, which Chromium's --dump-dom prints after the load event.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from leaderboard_fixtures import small_results

from letitwag_bench import leaderboard as lb

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom")

PROBE = """
<script>
window.addEventListener("load", () => {
  const out = {};
  const t = document.getElementById("table-letitwag");
  const order = () => Array.from(t.tBodies[0].rows).map(r => r.dataset.slug);
  const header = key => Array.from(t.tHead.rows[0].cells).find(c => c.dataset.key === key);
  const values = key => Array.from(t.tBodies[0].rows).map(r => parseFloat(r.cells[header(key).cellIndex].dataset.v));
  out.rows = t.tBodies[0].rows.length;
  out.initial = order();
  header("model").click(); out.by_name = order();
  header("slope").click(); out.slope_desc = order(); out.slopes_desc = values("slope");
  header("slope").click(); out.slope_asc = order(); out.slopes_asc = values("slope");
  out.images = Array.from(document.images).map(
    i => ({src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0}));
  out.bins = document.querySelectorAll("#curve-letitwag svg circle.bin").length;
  out.fit_lines = document.querySelectorAll("#curve-letitwag svg line.fit").length;
  t.tBodies[0].rows[1].click();
  out.clicked = t.tBodies[0].rows[1].dataset.slug;
  out.curve_slug = document.querySelector("#curve-letitwag svg").dataset.slug;
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("html")
    lb.build(small_results(folder / "results"), folder)
    page = folder / "probe.html"
    page.write_text((folder / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    profile = tmp_path_factory.mktemp("chromium-profile")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", page.as_uri()], capture_output=True,
                          text=True, timeout=120)
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the probe did not run; chromium stderr:\n{done.stderr[-2000:]}"
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text), json.loads((folder / "leaderboard.json").read_text())


def test_one_row_per_model(probed: tuple[dict, dict]) -> None:
    seen, data = probed
    models = data["benchmarks"]["letitwag"]["models"]
    assert seen["rows"] == len(models) == 4
    assert seen["initial"] == [m["slug"] for m in models]


def test_sorting_by_slope_reorders(probed: tuple[dict, dict]) -> None:
    seen, data = probed
    slopes = {m["slug"]: m["slope"] for m in data["benchmarks"]["letitwag"]["models"]}
    assert seen["slope_desc"] == sorted(slopes, key=lambda s: -slopes[s])
    assert seen["slope_asc"] == sorted(slopes, key=lambda s: slopes[s])
    assert seen["slopes_desc"] == sorted(seen["slopes_desc"], reverse=True)
    assert seen["slope_desc"] != seen["by_name"]  # the slope click changed the order the name click left
    names = {m["slug"]: m["model"].lower() for m in data["benchmarks"]["letitwag"]["models"]}
    assert seen["by_name"] == sorted(names, key=lambda s: names[s], reverse=True)  # first click: descending


def test_plots_and_curves_load(probed: tuple[dict, dict]) -> None:
    seen, data = probed
    assert {i["src"] for i in seen["images"]} == {"plots/letitwag_slopes.svg", "plots/letitwag_curves.svg"}
    assert all(i["ok"] for i in seen["images"]), seen["images"]
    first = data["benchmarks"]["letitwag"]["curves"][seen["initial"][0]]
    assert seen["bins"] == sum(y is not None for y in first["y"]) > 0
    assert seen["fit_lines"] == 1
    assert seen["curve_slug"] == seen["clicked"]
