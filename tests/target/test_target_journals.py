"""tap-businesscentral into target-businesscentral: journal lines copied to another company land
in the destination's journal of the same code; the second run of the same input writes nothing.

BC refuses a journal line without its journal (P/APIV2JournalLines.Page.al
@10383a2a4754c10fba7f2bb9222d4c203ca769e4, OnInsertRecord → FiltersNotSpecifiedErr), so the
source company's journalId is replaced by the id of the journal written (or found) in this run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap.tap_runner import catalog_for, direct_rows, run_tap, tap_config
from target.target_runner import run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def test_journal_lines_follow_their_journal_into_another_company(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    source, destination = bc.companies
    config = tap_config(bc.info, company_ids=[source["name"]])
    tapped = run_tap(tmp_path, config, catalog=catalog_for(config, ["journals", "journalLines"]))
    assert tapped.returncode == 0, tapped.stderr[-3000:]
    lines = tapped.records("journalLines")
    assert lines
    target = target_config(
        bc.info, tmp_path, default_company=destination["name"], write_all_to_default_company=True
    )
    run = run_target(tmp_path, target, tapped.stdout)
    assert run.returncode == 0, run.stderr[-3000:] + str(run.rejected[:3])
    summary = run.summary("journalLines")
    assert summary["created"] + summary["updated"] + summary["unchanged"] == len(lines)

    journals = {j["id"]: j["code"] for j in direct_rows(bc, "journals", 1)}
    copied = {
        (journals[row["journalId"]], row["lineNumber"])
        for row in direct_rows(bc, "journalLines", 1)
    }
    assert {(line["journalDisplayName"], line["lineNumber"]) for line in lines} <= copied

    again = run_target(tmp_path, target, tapped.stdout)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.summary("journalLines")["unchanged"] == len(lines)
