"""`python -m analytics campaigns ...` the way a data scientist runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT

DATA = ("--demo-size", "1500")


def run(*args):
    cmd = [sys.executable, "-m", "analytics", "campaigns", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def where(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaigns-cli")
    return {"cache": str(folder / "cache"), "db": f"sqlite:///{folder / 'c.db'}",
            "folder": folder}


def opts(where):
    return [*DATA, "--cache-dir", where["cache"], "--db", where["db"]]


def test_the_demo_store_holds_the_simulated_campaign(where):
    done = run("list", *opts(where), "--json")
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)["campaigns"]
    assert len(items) == 1 and items[0]["simulated"]
    assert items[0]["members"] == 750 and items[0]["outcomes"] == 750


def test_create_then_outcomes_then_report(where):
    out = where["folder"] / "treatment.csv"
    done = run("create", *opts(where), "--name", "Spring save desk", "--tier", "High",
               "--capacity", "80", "--control-share", "0.2", "--seed", "5",
               "--include-enrolled", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert (made["members"], made["control"], made["seed"]) == (80, 16, 5)
    treated = pd.read_csv(out, dtype=str)
    assert len(treated) == 64 and "arm" not in treated.columns  # control never listed
    outcomes = where["folder"] / "outcomes.csv"
    rows = ["customer_id,accepted,churned"]
    rows += [f"{cid},{'yes' if i % 4 == 0 else 'no'},{'1' if i % 5 == 0 else '0'}"
             for i, cid in enumerate(treated["customer_id"])]
    outcomes.write_text("\n".join(rows) + "\n")
    done = run("outcomes", *opts(where), "--campaign", "Spring save desk",
               "--file", str(outcomes))
    assert done.returncode == 0, done.stderr
    assert "64 outcomes" in done.stdout
    done = run("report", *opts(where), "--campaign", str(made["id"]), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["campaigns"][0]
    assert report["arms"] == {"treatment": 64, "control": 16}
    assert report["outcomes"] == 64  # no outcome for the control group yet
    assert report["churn"]["treatment"] == pytest.approx(13 / 64)  # every 5th churned: rows 0, 5, ..., 60
    assert report["acceptance"]["acceptance_measured"] == pytest.approx(16 / 64)
    assert report["effect"]["uplift"] is None  # nothing to compare with yet


def test_report_of_every_campaign_in_words(where):
    done = run("report", *opts(where))
    assert done.returncode == 0, done.stderr
    assert "measured uplift" in done.stdout and "[simulated]" in done.stdout


def test_bad_outcomes_file_exits_2_naming_the_row(where):
    bad = where["folder"] / "bad.csv"
    bad.write_text("customer_id,churned\nNOBODY,1\n")
    done = run("outcomes", *opts(where), "--campaign", "Spring save desk", "--file", str(bad))
    assert done.returncode == 2
    assert "bad.csv: nothing was imported" in done.stderr and "row 2: 'NOBODY'" in done.stderr
    assert "Traceback" not in done.stderr


def test_rules_dry_run_then_run_once_with_an_outbox(where):
    rules = where["folder"] / "rules.toml"
    rules.write_text('[settings]\noutbox_dir = "box"\n[[rules]]\nname = "high"\n'
                     'campaign = "High desk"\ncontrol_share = 0.2\n[rules.when]\n'
                     'tier = ["High"]\nmin_probability = 0.7\n')
    dry = run("rules", *opts(where), "--rules", str(rules), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    would = json.loads(dry.stdout)["rules"][0]
    assert would["dry_run"] and would["enrolled"] > 0 and not (where["folder"] / "box").exists()
    done = run("rules", *opts(where), "--rules", str(rules), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    made = result["rules"][0]
    assert (made["enrolled"], made["held_out"]) == (would["enrolled"], would["held_out"])
    assert result["outbox"]["sent"] >= 1
    sent = pd.concat(pd.read_csv(p, dtype=str) for p in (where["folder"] / "box").glob("*.csv"))
    assert len(sent) == made["enrolled"] - made["held_out"]  # the control group is never sent
    again = run("rules", *opts(where), "--rules", str(rules), "--json")
    assert "already ran on this data" in json.loads(again.stdout)["rules"][0]["skipped"]


def test_close_frees_the_members_for_new_campaigns(where):
    made = json.loads(run("create", *opts(where), "--name", "To close", "--capacity", "30",
                          "--include-enrolled", "--json").stdout)
    blocked = run("create", *opts(where), "--name", "Blocked", "--json")
    assert blocked.returncode == 0, blocked.stderr
    assert json.loads(blocked.stdout)["excluded"] >= 30  # the running one's members left out
    done = run("close", *opts(where), "--campaign", str(made["id"]))
    assert done.returncode == 0 and "closed" in done.stdout
    listed = json.loads(run("list", *opts(where), "--json").stdout)["campaigns"]
    assert next(c for c in listed if c["id"] == made["id"])["status"] == "closed"
    again = run("create", *opts(where), "--name", "Again", "--capacity", "30", "--json")
    assert again.returncode == 0, again.stderr  # the closed campaign's members are free again
    assert json.loads(again.stdout)["members"] > 0
