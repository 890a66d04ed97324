"""The pasted-``ray status`` parser, on recorded outputs of every layout (tests/data/ray_status)."""

from __future__ import annotations

from pathlib import Path

import pytest
from diagkit import result

from raybot.diagnose import diagnose_status_text
from raybot.diagnose.checks import STATUSES
from raybot.diagnose.collect.status_text import parse_status_text, parse_usage_line, snapshot_from_status
from raybot.errors import UsageError

DATA = Path(__file__).resolve().parent.parent / "data" / "ray_status"
ALL = sorted(DATA.glob("*.txt"))
GiB = 1024**3


def parse(name: str):
    return parse_status_text((DATA / name).read_text())


def test_there_are_recordings_of_every_layout():
    labels = set()
    for f in ALL:
        labels.update(parse_status_text(f.read_text()).labels)
    assert {
        "Healthy:",
        "Active:",
        "Idle:",
        "Usage:",
        "Total Usage:",
        "Demands:",
        "Total Demands:",
        "Pending Demands:",
        "From request_resources:",
        "Total Constraints:",
    } <= labels


@pytest.mark.parametrize("path", ALL, ids=[f.name for f in ALL])
def test_every_recording_parses_and_runs_the_checks(path):
    st = parse_status_text(path.read_text())
    assert st.labels or st.legacy_node_lines
    assert st.usage, "every layout shows resource usage"
    assert "unrecognised" not in st.layout
    d = diagnose_status_text(path.read_text(), source=path.name)
    assert d.snapshot.origin == "status-text"
    for r in d.results:
        assert r.status in STATUSES
    by_id = {r.id: r for r in d.results}
    # what `ray status` cannot show is "could not check", never "ok"
    for cid in ("reaping-disabled", "idle-worker-memory", "idle-workers-over-soft-limit"):
        assert by_id[cid].status == "error"
    assert by_id["data-completeness"].status == "info"
    assert d.to_dict()["checks"]


def test_legacy_healthy_layout():
    st = parse("gh-14608-healthy-failures.txt")
    assert st.active == {"cpu_4_ondemand": 2}
    assert [(p.ip, p.node_type, p.status) for p in st.pending] == [
        ("10.0.0.226", "cpu_4_ondemand", "setting-up"),
        ("10.0.0.118", "custom1", "waiting-for-ssh"),
    ]
    assert st.failures[0].ip == "10.0.0.157" and st.failures[0].node_type == "custom1"
    assert st.usage["CPU"] == (0.0, 8.0)
    assert st.usage["memory"] == (0.0, pytest.approx(19.915 * GiB))
    assert st.demands[0].shape == "{'CPU': 1.0, 'Custom1': 1.0}" and st.demands[0].count == 1
    assert "before Sep 2023" in st.layout


def test_healthy_verbose_with_launching_failures_and_per_node_breakdown():
    st = parse("gh-36894-healthy-verbose.txt")
    assert st.active == {"p3.2xlarge": 2, "m4.4xlarge": 20}
    assert st.pending[0].status == "launching" and st.pending[0].count == 2
    f = st.failures[0]
    assert (f.node_type, f.reason, f.ip) == ("p3.2xlarge", "RayletUnexpectedlyDied", "1.2.3.6")
    assert st.usage["memory"] == (2 * GiB, 8 * GiB)  # "2.00/8.000 GiB memory"
    kinds = [(d.count, d.kind) for d in st.demands]
    assert kinds == [(150, "tasks/actors"), (420, "placement groups"), (100, "request_resources")]
    assert st.nodes[0].name == "192.168.1.1" and st.nodes[0].usage["CPU"] == (5.0, 20.0)
    d = diagnose_status_text((DATA / "gh-36894-healthy-verbose.txt").read_text())
    by_id = {r.id: r for r in d.results}
    assert by_id["autoscaler-failures"].status == "warn"
    assert by_id["autoscaler-pending"].status == "info"


def test_cluster_status_2021_with_placement_group_demands():
    st = parse("gh-17892-cluster-status-2021.txt")
    assert st.header == "Cluster status" and st.legacy_node_lines
    pgs = [d for d in st.demands if d.kind == "placement groups"]
    assert len(pgs) == 3 and pgs[1].shape.startswith("{'GPU': 2.0} * 1, {'extra_resource': 2.0}")
    assert len([d for d in st.demands if d.kind == "request_resources"]) == 2


def test_active_idle_layouts():
    st = parse("2.10-active-idle.txt")
    assert st.idle and st.active and "Usage:" in st.labels and "Demands:" in st.labels
    st = parse("gh-39638-active-idle-verbose.txt")
    assert st.idle == {}
    assert st.nodes[0].activity == ["Resource: CPU currently in use.", "Busy workers on node."]
    assert st.nodes[0].node_id == "328da3b1e9273cf946f6ac3dfee9404dacf429566cd0809a7f04f01c"
    st = parse("gh-49350-v2-idle-verbose.txt")
    assert st.active == {} and st.idle == {"headgroup": 1}
    assert st.pending[0].node_type == "small-group"
    assert st.nodes[0].idle_ms == 82253


def test_total_usage_and_constraints_layout():
    st = parse("2.46-total-usage.txt")
    assert st.constraints[0].shape == "{'CPU': 4}" and st.constraints[0].kind == "request_resources"
    assert "Apr-Sep 2025" in st.layout


def test_260_layout_and_infeasible_demand():
    st = parse("2.60-pending.txt")
    assert "Pending Demands:" in st.labels and "From request_resources:" in st.labels
    assert st.usage["object_store_memory"][0] == pytest.approx(195.32 * 1024)
    snap = snapshot_from_status(st)
    r = result("infeasible-demands", snap)
    # {'CPU': 3.0} on 2 CPUs
    assert r.status == "warn" and "2+ request(s) no node can run" in r.value


def test_warning_and_prompt_before_header_are_ignored():
    st = parse("gh-kunlun-361-pending-demands-warning-prefix.txt")
    assert st.usage["GPU"] == (0.0, 8.0) and st.usage["memory"][1] == pytest.approx(1.44 * 1024**4)
    st = parse("gh-mars-2768-healthy-placement-groups.txt")
    assert st.usage_notes["CPU"] == "4.0 used of 4.0 reserved in placement groups"


def test_log_prefixes_crlf_and_colours_are_stripped():
    text = (DATA / "gh-14608-healthy-failures.txt").read_text()
    prefixed = "\r\n".join(
        f"I 03-15 02:13:{i % 60:02d} backend_utils.py:521] \x1b[1m{ln}\x1b[0m" for i, ln in enumerate(text.splitlines())
    )
    st = parse_status_text(prefixed)
    assert st.active == {"cpu_4_ondemand": 2} and len(st.pending) == 2
    assert st.usage["CPU"] == (0.0, 8.0)


def test_text_after_the_report_is_kept_as_autoscaler_error():
    text = (DATA / "2.60-idle.txt").read_text() + "\nAutoscaler error: failed to launch node\n"
    st = parse_status_text(text)
    assert st.error_text and "failed to launch node" in st.error_text


@pytest.mark.parametrize("text", ["", "hello world\n", "Traceback (most recent call last):\n  ...\n"])
def test_not_ray_status_is_a_usage_error(text):
    with pytest.raises(UsageError) as e:
        parse_status_text(text)
    assert e.value.reference == "not-ray-status"


@pytest.mark.parametrize(
    "line,expected",
    [
        ("0B/15.29GiB memory", ("memory", 0.0, 15.29 * GiB, None)),
        ("2.00/8.000 GiB memory", ("memory", 2 * GiB, 8 * GiB, None)),
        ("195.32KiB/6.93GiB object_store_memory", ("object_store_memory", 195.32 * 1024, 6.93 * GiB, None)),
        ("0.1/1 AcceleratorType:V100", ("AcceleratorType:V100", 0.1, 1.0, None)),
        (
            "4.0/8.0 CPU (4.0 used of 4.0 reserved in placement groups)",
            ("CPU", 4.0, 8.0, "4.0 used of 4.0 reserved in placement groups"),
        ),
    ],
)
def test_usage_lines(line, expected):
    res, used, total, note = parse_usage_line(line)
    assert (res, note) == (expected[0], expected[3])
    assert used == pytest.approx(expected[1]) and total == pytest.approx(expected[2])
