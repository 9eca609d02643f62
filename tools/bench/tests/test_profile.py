"""Reading py-spy's collapsed stacks into the shares the benchmark reports."""

from __future__ import annotations

from boomerang.bench.profile import category_of, parse_collapsed, summarise

ROOT = "run (uvicorn/main.py:10);Server.serve (uvicorn/server.py:20)"
STACKS = [
    f"{ROOT};batch (ingest/entrypoints/api.py:64);to_envelope (boomerang/ingest/domain/mapping.py:70);"
    "normalise_email (boomerang/ingest/domain/contacts.py:20);validate_email (email_validator/validate_email.py:9) 30",
    f"{ROOT};batch (ingest/entrypoints/api.py:64);to_envelope (boomerang/ingest/domain/mapping.py:70) 10",
    f"{ROOT};_worker (concurrent/futures/thread.py:5);_seen_since (boomerang/ingest/adapters/repositories.py:1);"
    "execute (sqlalchemy/engine/base.py:3) 40",
    f"{ROOT} 20",
]


def test_collapsed_lines_become_frames_without_line_numbers():
    [(frames, count)] = parse_collapsed(["a (x/f.py:1);b.<locals>.c (y/g.py:22) 7", "not a sample"])
    assert frames == ["a (x/f.py)", "b.<locals>.c (y/g.py)"] and count == 7


def test_a_sample_counts_for_its_most_specific_cost():
    [email, mapping, sql, idle] = [frames for frames, _ in parse_collapsed(STACKS)]
    assert category_of(email) == "email-validator (+ idna)"  # not "mapping", though under it
    assert category_of(mapping) == "mapping (rest of ingest domain)"
    assert category_of(sql).startswith("SQL")
    assert category_of(idle).startswith("HTTP")  # the server's own leaf time


def test_shares_add_up_per_category_and_accumulate_per_function():
    summary = summarise(parse_collapsed(STACKS))
    assert summary["samples"] == 100
    assert sum(row["percent"] for row in summary["by_category"]) == 100.0
    cumulative = {row["what"]: row["percent"] for row in summary["top_cumulative_boomerang"]}
    assert cumulative["to_envelope (boomerang/ingest/domain/mapping.py)"] == 40.0
    assert "run (uvicorn/main.py)" not in cumulative  # only our own code: where a change here acts
    assert summary["top_self"][0] == {"what": "execute (sqlalchemy/engine/base.py)", "percent": 40.0, "samples": 40}
