"""The MLflow UI, in a real headless Chromium, shows a tracked 3-trial search."""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest

pytest.importorskip("mlflow")

from _tracking_helpers import MlflowServer, make_record  # noqa: E402
from seqtune.tracking import MlflowTracker  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000


@pytest.fixture
def tracked_search(tmp_path):
    """A finished 3-trial search logged by MlflowTracker into a running server."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent; install the Debian packages chromium and chromium-driver")
    sync_api = pytest.importorskip("playwright.sync_api")
    server = MlflowServer(tmp_path / "server")
    server.start()
    try:
        tracker = MlflowTracker(server.uri, "ui-search")
        tracker.start_search(tmp_path / "proj", run_name="gru-search",
                             params={"tuner": "random", "budget": 3}, tags={},
                             space_yaml="units: [4, 8, 12]\n", fingerprint=None)
        records = [make_record(i) for i in range(3)]
        for record in records:
            tracker.log_trial(record)
        tracker.end_search(best_score=0.7, best_params=records[2]["params"], records=records)
        assert len(tracker.logged_runs) == 3
        yield server, tracker, records, sync_api
    finally:
        server.stop()


def test_ui_shows_parent_children_and_params(tracked_search, tmp_path):
    server, tracker, records, sync_api = tracked_search
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)

            # Runs table: the parent run, expanded to show its 3 nested child runs.
            page.goto(f"{server.uri}/#/experiments/{tracker.experiment_id}/runs")
            parent_row = page.locator("[role=row]", has_text="gru-search").first
            parent_row.wait_for()
            for record in records:
                assert page.get_by_text(f"trial_{record['trial_id']}", exact=True).count() == 0
            parent_row.locator("button[data-component-id*='runnamecellrenderer']").first.click()
            for record in records:
                page.get_by_text(f"trial_{record['trial_id']}", exact=True).first.wait_for()
            page.screenshot(path=str(tmp_path / "runs_table.png"))

            # Comparison of the 3 child runs: every searched param with its value.
            run_ids = [tracker.logged_runs[r["trial_id"]] for r in records]
            query = urllib.parse.urlencode({"runs": json.dumps(run_ids),
                                            "experiments": json.dumps([tracker.experiment_id])})
            page.goto(f"{server.uri}/#/compare-runs?{query}")
            expected = {
                "Run Name:": [f"trial_{r['trial_id']}" for r in records],
                "cell": [r["params"]["cell"] for r in records],
                "units": [str(r["params"]["units"]) for r in records],
                "learning_rate": [str(r["params"]["learning_rate"]) for r in records],
                "bidirectional": [str(r["params"]["bidirectional"]).lower() for r in records],
            }
            for name, values in expected.items():
                row = page.locator("tr", has=page.locator("th", has_text=name)).first
                row.wait_for()
                assert [c.strip() for c in row.inner_text().split("\t")] == [name, *values]
            page.locator("tr", has=page.locator("th", has_text="units")).first.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "compare_runs.png"))
        finally:
            browser.close()
    assert (tmp_path / "runs_table.png").stat().st_size > 10_000
    assert (tmp_path / "compare_runs.png").stat().st_size > 10_000
