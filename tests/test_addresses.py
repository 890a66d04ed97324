"""The user's head address filled into an answer's commands (raybot.addresses)."""

from __future__ import annotations

import pytest

from raybot.addresses import HeadAddress, fill, head_address, personalize


@pytest.mark.parametrize(
    "question, ip, port",
    [
        # The real dev question (full-questions.jsonl:1592, shortened): head and port given apart.
        (
            "I started ray on server 172.16.14.76 with ray start --head --port 4896, and can see the "
            "dashboard on 127.0.0.1:8265. Should I run ray start --address 172.16.14.76?",
            "172.16.14.76",
            4896,
        ),
        ("ray start --address=10.0.0.5:6380 hangs on the worker", "10.0.0.5", 6380),
        ("ray.init(address='10.1.2.3:6379') fails", "10.1.2.3", 6379),
        # Ray Client and the dashboard are not the GCS: the IP is the head's, the port is not.
        ('ray.init(address="ray://10.1.2.3:10001") times out', "10.1.2.3", None),
        ("ray start --address 192.168.1.20:8265 says it cannot connect", "192.168.1.20", None),
        ("my head node is 192.168.0.10, how do I add workers?", "192.168.0.10", None),
        ("I ran ray start --head --port=7000, how do workers join?", None, 7000),
        # Two different heads, loopback only, or no address: nothing is filled.
        ("ray start --address=10.0.0.1:6379 on one box and --address=10.0.0.2:6379 on another", None, 6379),
        ("ray start --head on 127.0.0.1, how do I connect?", None, None),
        ("how do I add a worker node to my cluster?", None, None),
    ],
)
def test_the_head_address_a_question_states(question, ip, port):
    assert head_address(question) == HeadAddress(ip, port)


def test_fill_replaces_head_placeholders_only():
    md = (
        "Run `ray start --address=<head-ip>:6379` or `ray start --address=<head-ip>:<port>`; "
        "the dashboard is at http://<ip>:8265, Ray Client at ray://<host>:10001. "
        "The GCS listens on 6379 by default. Each node binds `<node-ip>:8076` for objects. "
        "Test it: `nc -zv <head-ip> <gcs-port>`; or set RAY_ADDRESS=<gcs-address>."
    )
    out = fill(md, HeadAddress("10.0.0.5", 4896))
    assert "--address=10.0.0.5:4896`" in out and out.count("10.0.0.5:4896") == 3
    assert "http://10.0.0.5:8265" in out and "ray://10.0.0.5:10001" in out
    assert "on 6379 by default" in out  # prose about the default stays true
    assert "<node-ip>:8076" in out  # a port every node has: not the head's
    assert "`nc -zv 10.0.0.5 4896`" in out and "RAY_ADDRESS=10.0.0.5:4896." in out
    assert fill(md, HeadAddress(None, None)) == md
    assert "<head-ip>:4896" in fill(md, HeadAddress(None, 4896))


def test_personalize_says_what_it_filled_in_under_the_first_paragraph():
    md = "### Joining a node\n\nRun `ray start --address=<head-ip>:6379` on it.\n\n**Steps**\n\n1. x"
    out = personalize(md, "ray start --head --port 6390 on 10.9.8.7")
    parts = out.split("\n\n")
    assert parts[1] == "Run `ray start --address=10.9.8.7:6390` on it."
    assert parts[2] == "*Filled in from your question: head node `10.9.8.7` and GCS port `6390`.*"
    # Nothing to fill, or no head named: the answer is left exactly as it was.
    assert (
        personalize("### T\n\nNo command here.", "ray start --head --port 6390 on 10.9.8.7")
        == "### T\n\nNo command here."
    )
    assert personalize(md, "how do I join a node?") == md
