"""Pure functions: query preparation, tokenising, intents, pasted-code checks, composition."""

from __future__ import annotations

import warnings

import pytest
from helpers import DATA

from raybot import codecheck, intents
from raybot.answer import Offer, code_words, compose_entry, display_code, next_offer, trim_words
from raybot.kb import Entry
from raybot.retrieve import MAX_QUESTION_CHARS, extract_signals, prepare_query, tokenize

SEED = DATA / "seed" / "ray-discourse-thread.txt"


def test_prepare_query_strips_mentions_and_keeps_identifiers():
    q = prepare_query(
        "@RunLLM What is the cause of\nRayTaskError(ReferenceCountingAssertionError)"
        "(ReferenceCountingAssertionError('00f7ac66', ''))\n?"
    )
    assert "@RunLLM" not in q.text
    assert "referencecountingassertionerror" in q.signals
    assert "referencecountingassertionerror" in q.dense_text.lower()


def test_chat_emoji_codes_are_neither_words_nor_identifiers():
    # A Slack message keeps its emoji as ":name:"; read as an identifier it was a "missing" ask
    # that turned a matched message into a partial answer.
    q = prepare_query("a ray question :slightly_smiling_face: why does ray::IDLE stay at 12:30:05 :+1:")
    assert "smiling" not in q.text and ":+1:" not in q.text
    assert q.signals == ["ray::idle"]
    assert "12:30:05" in q.text


def test_a_line_that_starts_like_code_but_goes_on_in_words_is_prose():
    # "setting=value" then a sentence is how users write; dropping the line as an assignment left
    # only "log_to_driver" to embed, and another entry's short answer won.
    q = prepare_query("log_to_driver=False yet worker .out and .err files still pile up under the session logs")
    assert "pile up under the session logs" in q.dense_text
    q = prepare_query("x = ray.put(big_array)\nray.init(num_cpus=2)\nwhy does the object store fill up?")
    assert q.dense_text.startswith("why does the object store fill up?")
    assert "x =" not in q.dense_text and "num_cpus=2" not in q.dense_text


def test_topic_words_keep_whole_identifiers_not_their_parts():
    from raybot.tokens import topic_words

    words = topic_words("Version mismatch error RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL ray::IDLE")
    assert {"version", "mismatch", "error", "default_python_version_match_level", "ray::idle"} <= words
    assert "match" not in words and "level" not in words


def test_names_the_users_code_defines_are_not_asks(shipped_retriever):
    q = prepare_query(
        "how do I chain these without blocking?\n```\ndef execute_flow_1(m):\n    return m\n"
        "ref = execute_flow_1.remote(1)\nf.options(max_calls=2)\n```"
    )
    assert {"execute_flow_1", "ref"} <= q.defined
    missing, ident = shipped_retriever.missing_terms(q, "chain-tasks-with-object-refs")
    assert "execute_flow_1" not in missing + ident
    # A Ray name the kb knows still counts even when the snippet assigns it.
    q2 = prepare_query("x = 1\nnum_workers_soft_limit = 4\nwhy is this ignored?")
    _, ident2 = shipped_retriever.missing_terms(q2, "chain-tasks-with-object-refs")
    assert "num_workers_soft_limit" in ident2


def test_names_the_user_calls_passes_or_links_are_not_asks(shipped_retriever):
    # A remote function the snippet only calls, a string it passes as a value, and a name that
    # appears only inside a link are the user's own, not identifiers raybot should know.
    q = prepare_query(
        "my job is slow, see https://discuss.ray.io/t/slow/1?u=jane_doe_42\n"
        "refs = [score_one_batch.remote(i) for i in range(9)]\n"
        'RuntimeEnv(conda="team_env_v3")\nresults = ray.get(refs)\nfor path in all_model_paths_v2: load(path)'
    )
    assert {"score_one_batch", "team_env_v3", "all_model_paths_v2"} <= q.defined
    assert "ray" not in q.defined
    missing, ident = shipped_retriever.missing_terms(q, "runtime-env-basics")
    for name in ("score_one_batch", "team_env_v3", "jane_doe_42", "all_model_paths_v2"):
        assert name not in missing + ident
    # The same unknown name outside a link still counts as asked about.
    # A sentence that reads like a loop is prose, not code.
    assert "django_rq" not in prepare_query("is ray good for workers in django_rq apps?").defined
    q2 = prepare_query("what does jane_doe_42 mean in my raylet.out?")
    _, ident2 = shipped_retriever.missing_terms(q2, "runtime-env-basics")
    assert "jane_doe_42" in ident2


def test_huge_question_is_trimmed_with_a_note():
    q = prepare_query("why is ray::IDLE using memory " + "a" * (MAX_QUESTION_CHARS * 2))
    assert len(q.text) <= MAX_QUESTION_CHARS and q.notes and "first 10,000" in q.notes[0]
    assert len(q.dense_text.split()) <= 80


def test_a_ray_api_call_asked_about_is_a_signal_but_not_one_in_an_aside():
    assert extract_signals("what does ray.nodes() return and why does it grow?") == ["ray.nodes"]
    assert extract_signals("print(len(ray.nodes())) shows 3 nodes") == ["ray.nodes"]
    aside = 'tasks with num_cpus=2 on 16 CPUs (ray.cluster_resources()["CPU"] == 16) leave 8 idle, why?'
    assert "ray.cluster_resources" not in extract_signals(aside)


def test_signals_cover_configs_env_vars_issue_numbers_and_commands():
    sig = extract_signals("RAY_num_workers_soft_limit=2, see #18456 and issue 29162; `ray memory` says max_calls=2")
    for expected in (
        "ray_num_workers_soft_limit",
        "num_workers_soft_limit",
        "18456",
        "29162",
        "ray memory",
        "max_calls",
    ):
        assert expected in sig, sig


def test_tokenize_keeps_identifiers_whole_and_split():
    toks = tokenize("RAY_kill_idle_workers_interval_ms ray::IDLE workers")
    assert "kill_idle_workers_interval_ms" in toks and "ray_kill_idle_workers_interval_ms" in toks
    assert "interval" in toks and "ray::idle" in toks and "worker" in toks


def test_tokenize_keeps_cpp_log_file_names_and_ray_get():
    # Found by h34 helpers: "C++" lost its only letter and "monitor.out" its "out" (a stop word), so
    # these questions matched on what was left of them. ("ray.get" stays two stop words: keeping it
    # as a term led list-of-refs questions to the nested-list short answer.)
    assert "cpp" in tokenize("Does Ray support C++ workers?")
    toks = tokenize("what is in monitor.out vs monitor.err")
    assert "monitor_out" in toks and "monitor_err" in toks and "monitor" in toks
    assert "dashboard_log" in tokenize("where is dashboard.log")


def test_tokenize_keeps_which_ulimit_was_asked():
    # "what ulimit -n should I set" was led by the ulimit -u short answer: the letter that says which
    # limit is too short to be a token (tokenizer 8).
    assert {"ulimit_n", "ulimit"} <= set(tokenize("what ulimit -n should I set for ray"))
    assert "ulimit_n" not in tokenize("what ulimit -u does ray need")
    assert "ulimit_n" in tokenize("ulimit -Hn 65536")  # hard limit of -n
    assert tokenize("the ulimit is too low") == ["ulimit", "low"]


def test_a_cli_flag_is_the_identifier_of_its_setting():
    # "--min-worker-port" in an entry is what "min_worker_port" asks about (tokenizer 6).
    toks = tokenize("ray start --min-worker-port=10002 --object-store-memory 8000000000 --block")
    assert {"min_worker_port", "min", "worker", "port", "object_store_memory", "block"} <= set(toks)
    assert "out_of_memory" not in tokenize("an out-of-memory error")  # only flags, not hyphenated words
    from raybot.assistant import asks_default

    # A few words typed like a search ask for the default; "by default" in a yes/no does not.
    assert asks_default("min_worker_port max_worker_port defaults")
    assert not asks_default("does ray retry failed tasks by default")
    assert not asks_default("is the default fine for a big cluster?")


@pytest.mark.parametrize(
    "text,kind,section",
    [
        ("@RunLLM Yes, please…", "affirm", None),
        ("yes, do please…", "affirm", None),
        ("sure, go on", "affirm", None),
        ("yes i would like revised pattern", "section", "Example"),
        ("show me code", "section", "Example"),
        ("can you give me a step by step?", "section", "Steps"),
        ("more detail please", "section", "Details"),
        ("why?", "section", "Details"),
        ("does that work on 2.60?", "versions", None),
        ("how do I fix this?", "contextual", None),
        ("and how do I check it worked?", "contextual", None),
        ("@RunLLM Search for issues where num_workers_soft_limit is mentioned", "issues", None),
        ("which issues discuss max_calls?", "issues", None),
        ("are there any bug reports about raylet crashes?", "issues", None),
        # "report" here is what Ray does, not a bug report to search for.
        ("My task crashed with a segmentation fault: what does Ray report and where is the stack?", "question", None),
        ("different question: what does ray memory show?", "new_topic", None),
        ("What may be the cause of ray idle consuming a lot of cpu?", "question", None),
        ("thanks!", "thanks", None),
        ("great, thank you so much", "thanks", None),
        ("ok and on kuberay?", "contextual", None),
        ("what about GPUs?", "contextual", None),
    ],
)
def test_intents_in_a_thread(text, kind, section):
    got = intents.classify(text, has_topic=True)
    assert got.kind == kind, got
    if section:
        assert got.section == section


def test_without_a_topic_follow_ups_are_plain_questions():
    assert intents.classify("yes please", has_topic=False).kind == "nothing_pending"
    assert intents.classify("hi", has_topic=False).kind == "nothing_pending"
    assert intents.classify("why is ray::IDLE using memory?", has_topic=False).kind == "question"
    assert (
        intents.classify("Search for issues where num_workers_soft_limit is mentioned", has_topic=False).term
        == "num_workers_soft_limit"
    )


def test_compare_needs_code_and_a_comparison():
    assert (
        intents.classify(
            "my implementation of NumpyStore does the same i think. Or no?", has_topic=True, has_code=True
        ).kind
        == "compare"
    )


def seed_code() -> str:
    text = SEED.read_text("utf-8")
    return text[text.index("ray.remote\nclass PlasmaStoreActor") : text.index("Note that we have set max_calls")]


def test_codecheck_finds_the_seed_problems():
    rules = {f.rule for f in codecheck.check(seed_code())}
    assert {"put-owner", "max-calls-put-owner"} <= rules
    plain = "@ray.remote(max_calls=2)\ndef f():\n    ref = ray.put(1)\n    return [ref]\n"
    assert [f.rule for f in codecheck.check(plain)] == ["max-calls-put"]


def test_codecheck_keeps_the_parsers_warnings_off_the_terminal(recwarn):
    # "0x1for" and "1if" parse, with a SyntaxWarning that Python prints as "<unknown>:1: ..."
    from raybot.codecheck import parse_bounded

    warnings.simplefilter("always")
    parse_bounded("import ray\nx = [0x1for i in range(3)]\ny = 1if x else 2\n")
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_codecheck_config_rules():
    cfg = (
        "# my ray::IDLE worker processes never go away\n"
        'ray start --address=$RAY_HEAD_IP:6379 --system-config=\'{"kill_idle_workers_interval_ms":10000,'
        '"idle_worker_killing_time_threshold_ms":10000}\'\nidle_timeout_minutes: 1\n'
    )
    rules = {f.rule for f in codecheck.check(cfg)}
    assert rules == {"slow-reaping", "slow-threshold", "system-config-worker", "node-idle-timeout"}
    assert [f.rule for f in codecheck.check('{"kill_idle_workers_interval_ms": 0}')] == ["reaping-disabled"]
    assert codecheck.check("@ray.remote\ndef f(x):\n    return x * 2\n") == []
    # About idle nodes only: no lecture about worker processes.
    assert codecheck.check("nodes never scale down\nidle_timeout_minutes: 5\n") == []


ENTRY_RECORD = {
    "id": "e1",
    "title": "T",
    "kind": "config",
    "ray_versions": ">=2.6",
    "related": [],
    "sources": [{"title": "s", "url": "https://example.org"}],
    "follow_ups": [{"offer": "Want steps?", "section": "Steps"}],
    "sections": {
        "Answer": "A.",
        "Details": " ".join(["word"] * 400),
        "Steps": "1. do",
        "Example": "```python runnable\nprint(1)\n```",
    },
}
ENTRY = Entry.from_record(ENTRY_RECORD)


def test_compose_first_answer_trims_details_and_offers_next():
    c = compose_entry(ENTRY, sections=["Answer", "Details"])
    assert c.sections == {"e1": ["Answer"]}  # details were cut, so not marked as shown
    assert "Sources:" in c.markdown and "https://example.org" in c.markdown
    assert c.offer == Offer("e1", "Steps", "Want steps?")
    assert c.markdown.rstrip().endswith("Want steps?")
    assert next_offer(ENTRY, {"Answer", "Steps"}).section == "Example"


def test_a_short_answer_shows_dunder_names_and_starred_args_as_written():
    # Short answers are plain text inside the bold lead: "__init__" must not turn into a bold "init".
    from raybot.kb import ShortAnswer
    from raybot.render import markdown_lines

    sa = ShortAnswer("q?", "Its state is rebuilt by __init__ (pass **kwargs; a*b stays).", "https://example.org")
    c = compose_entry(ENTRY, sections=["Answer"], short=sa)
    assert "**Its state is rebuilt by `__init__` (pass `**kwargs`; a*b stays).**" in c.markdown
    shown = "\n".join(line.plain for line in markdown_lines(c.markdown, width=80, sources=[], color=False))
    assert "__init__" in shown and "**kwargs" in shown
    titled = Entry.from_record({**ENTRY_RECORD, "title": "Actor stuck: its __init__ is still running"})
    heading = compose_entry(titled, sections=["Answer"]).markdown.split("\n", 1)[0]
    assert heading == "### Actor stuck: its `__init__` is still running"
    assert code_words("already `__init__`, and ray.get(h.__ray_ready__.remote()).") == (
        "already `__init__`, and `ray.get(h.__ray_ready__.remote())`."
    )


def test_display_code_hides_runnable_marker_and_trim_keeps_whole_items():
    assert display_code("```python runnable\nx\n```") == "```python\nx\n```"
    text, cut = trim_words("- a b c\n- d e f\n- g h i", 5)
    assert cut and text == "- a b c"


def test_codecheck_reads_json_configs_and_yaml_sections():
    q = 'ray.init(_system_config={"kill_idle_workers_interval_ms": 0}) is this ok? want warm workers'
    assert [f.rule for f in codecheck.check(q)] == ["reaping-disabled"]
    head_only = (
        "head_start_ray_commands:\n"
        "  - ray start --address=$RAY_HEAD_IP:6379 --system-config={kill_idle_workers_interval_ms:0}\n"
        "worker_start_ray_commands:\n"
        "  - ray start --address=$RAY_HEAD_IP:6379 --system-config={num_workers_soft_limit:0}\n"
    )
    found = [(f.rule, f.line) for f in codecheck.check(head_only)]
    assert ("system-config-worker", 4) in found and ("system-config-worker", 2) not in found


@pytest.mark.parametrize(
    "text,library",
    [
        ("Failure # 1 (occurred at 2023-07-16_01-52-08) The actor died", True),
        ('File "/x/site-packages/ray/rllib/evaluation/rollout_worker.py", line 3', True),
        ("when I use serve deploy config.yaml it fails", True),
        ("I am using xgboost - ray and it gives me this error", True),
        ("tuner = tune.Tuner(trainable)", True),
        ("how to deploy my serve app on an existing ray cluster", True),
        ("where will the Serve model run, local or remote cluster?", True),
        ("how can i run serve on an existing ray cluster", True),
        ("python run serve.py starts a local ray instance", False),
        ("the actor should serve requests; how many replicas of it do I need?", False),
        ("does the worker leak fix also cover detached actors / serve replicas?", False),
        ("why are my ray::IDLE workers holding memory?", False),
        ("python fine-tune.py fails with OwnerDiedError", False),
        ("it took some trial and error to find num_cpus", False),
        ("How to read the ray dataset from S3", True),
        ("can ray datasets stream from a bucket?", True),
        ("my dataset is put in the ray object store with ray.put", False),
        ("can I pass a deployment handle to multiple actors", True),
        ("how can I kill a ray deployment?", True),
        ("can I use ray.wait on a workflow task", True),
        ("how Ray cluster deployment on AWS with docker images works", False),
        ("in an aks deployment, how does prometheus reach the discovery file", False),
        ("how do I run a ray task in my data processing workflow", False),
        ("Is it possible to run multiple workers on a single GPU with DD-PPO?", True),
        ("How to specify memory in Ray Trainer resource?", True),
        ("my upload stopped, can I resume it from a Ray task?", False),
    ],
)
def test_library_context(text, library):
    from raybot.signatures import library_context

    assert bool(library_context(text)) is library, library_context(text)


@pytest.mark.parametrize(
    "question,fact",
    [
        ("If I shut down a raylet, will the tasks and workers on that node also get killed?", True),
        ("can ray reconstruct them?", True),
        ("is there a way to detect when an actor cannot be scheduled?", False),
        ("Is it possible to check how much object store memory is left?", False),
        ("why is it slow. can I raise it?", False),
        ("should I put the array in the object store from the driver, or create it inside a task?", False),
        ("will it be killed or not?", True),
        ("how do I set the soft limit", False),
        # A request for help in yes/no form (dev row rq-388a9284 ends with it).
        ("I saw an issue referencing this, but there was no resolution. Do you have any advice for me?", False),
        ("does anyone have an idea why this happens?", False),
        ("Do you have the default value of the timeout?", True),
        # Asking for company is not asking about Ray (pool slack:1374 asks which ports to open after it).
        ("It hangs forever. Has anyone else seen this problem before? What ports do I need to open?", False),
        ("Has anybody run into this? Will the tasks on that node be killed if the raylet dies?", True),
        # A dot inside a name does not end the question (before: not a yes/no question at all).
        ("Does ray.get block the event loop?", True),
        ("Is ray.put zero-copy in Ray 2.60 for numpy arrays?", True),
        # About the chat, not about Ray (dev row rq-3f8128da opens with it).
        ("Is there a questions channel?", False),
        ("Is this the right place to ask?", False),
        # Asking someone for help (pool slack:543 ends with it) is not asking about a fact.
        ("Only two tasks run at a time. Can anyone please give me a clue how to do it?", False),
        ("Could someone point me to the docs for placement groups?", False),
        ("Can anyone confirm that ray.get blocks the caller?", True),
        # Pool slack:413 and slack:1435 end with these; each took a "Yes." short answer as its lead.
        ("I get this error on every run. Would anyone know how to resolve this?", False),
        ("Saw this documentation but was wondering if anyone else has had any luck?", False),
        ("Would the tasks on that node be killed?", True),
        # Typed without the question mark (stop 22): still a yes/no question when short...
        ("does ray retry failed tasks by default", True),
        ("can an actor call another actor", True),
        # ... but not a request, and not a pasted log line or a long paste.
        ("can you show me an example of ray.actor.exit_actor()", False),
        ("Task was killed due to the node running low on memory", False),
        ("is " + "very " * 30 + "long text without a question mark", False),
        # A bracketed subject line before the question (pool slack:1394) does not hide it.
        ("[Question about resources] Does ray free the memory of a deleted ref at once?", True),
    ],
)
def test_fact_yes_no_questions(question, fact):
    from raybot.assistant import asks_fact_yes_no

    assert asks_fact_yes_no(question) is fact


def test_a_short_answer_is_not_led_by_the_opposite_of_what_was_asked():
    from raybot.assistant import _opposite_asked, _zero_mismatch

    must_same = "Must all Ray nodes and drivers run the same Python version?"
    assert _opposite_asked(must_same, "does ray client work with different python versions")
    assert not _opposite_asked(must_same, "do all my nodes need the same python version")
    # Mixing versions is asking about different ones (stop 30: "Is mixing versions supported during a
    # rolling upgrade?" got the "Yes." of "Do all nodes need to be upgraded at the same time?").
    assert _opposite_asked("Must every node run the same Ray version?", "is mixing ray versions supported")
    # Keeping work off a node is not sending it there.
    assert _opposite_asked("How do I force a task onto a specific node?", "can i make tasks avoid a specific node")
    assert not _opposite_asked("How do I force a task onto a specific node?", "how do i pin a task to a node")
    on = "Is token authentication on by default in Ray 2.60?"
    assert _opposite_asked(on, "is token authentication disabled by default")
    # Scaling up is not scaling down (h34a).
    faster = "How do I make the Ray autoscaler scale up faster (upscaling speed)?"
    assert _opposite_asked(faster, "how do I make the autoscaler scale down faster")
    assert _opposite_asked("Can the autoscaler scale down to zero worker nodes?", "can it upscale from zero")
    assert not _opposite_asked(faster, "my cluster scales up too slowly")
    # Staying alive is the opposite of being killed (stop 29: "does a detached actor survive ray
    # stop" was answered "Yes" by the short answer to "Does ray stop kill detached actors?").
    kills = "Does ray stop kill detached actors?"
    assert _opposite_asked(kills, "does a detached actor survive ray stop")
    assert _opposite_asked(kills, "will my detached actor keep running after ray stop")
    assert not _opposite_asked(kills, "are detached actors killed by ray stop")
    # Looking is not changing (stop 48's kb_regress: a "check" question led by the "set" answer).
    size = "How do I set the object store size?"
    assert _opposite_asked(size, "how can I check how much object store memory is left on a specific node")
    assert _opposite_asked("How can I check the object store usage of each node?", "how do I increase the object store")
    assert not _opposite_asked(size, "how do I change the object store size")
    assert not _opposite_asked(size, "I checked ray status, how do I set a bigger object store?")
    assert not _opposite_asked(size, "how do I set it, and how can I check it took effect")

    # Zero is not just another value of a setting.
    zero = "What happens if I set num_cpus=0 on a task?"
    assert not _zero_mismatch(zero, "@ray.remote(num_cpus=0) class A: what does that do")
    assert _zero_mismatch(zero, "I set num_cpus=4 on my actor, why is the machine idle")
    assert _zero_mismatch(zero, "when I specify num_cpus for an actor the CPUs are idle")
    assert not _zero_mismatch("Does num_cpus=1 limit Ray to one worker process?", "does num_cpus=4 limit it")
    assert not _zero_mismatch("Does a task without num_gpus run on the CPU?", "is num_gpus=0 enough for the cpu")
    # A CLI flag names the same setting: "--num-cpus=0" is num_cpus=0, not a setting called "cpus".
    assert not _zero_mismatch("What does ray start --num-cpus=0 do on the head?", "can I set num_cpus=0 on the head")
    assert _zero_mismatch("What does ray start --num-cpus=0 do on the head?", "I set num_cpus=8 on the head")
    # -1 (no limit) and fractions are special values too.
    unlimited = "What does max_task_retries=-1 mean?"
    assert _zero_mismatch(unlimited, "difference between max_restarts and max_task_retries")
    assert not _zero_mismatch(unlimited, "max_task_retries=-1 and the actor keeps dying")
    above_one = "Can num_gpus be fractional and more than 1, such as num_gpus=1.5?"
    assert _zero_mismatch(above_one, "num_gpus=0.5 for two actors, will they be on the same gpu?")
    assert not _zero_mismatch(above_one, "can I use num_gpus=2.5")
    assert not _zero_mismatch(above_one, "can i use fractional num_gpus greater than 1 like 1.5?")
    assert _zero_mismatch(above_one, 'num_gpus fractional bundles like {"GPU": 0.5}?')


def test_a_setting_given_a_value_is_not_done_without():
    from raybot.assistant import _without_it

    # h34b: "num_gpus=1 on an actor but torch.cuda.is_available() is False" was led by the answer to
    # "Why does torch see all GPUs inside a task started without num_gpus?".
    without = "Why does torch see all GPUs inside a task started without num_gpus?"
    assert _without_it(without, "num_gpus=1 on an actor but torch.cuda.is_available() is False")
    assert not _without_it(without, "torch sees every gpu in my task, I did not set num_gpus")
    assert not _without_it(without, "num_gpus=0 and torch still sees the gpus")


def test_a_cli_command_is_a_named_api_for_yes_no_short_answers():
    from raybot.assistant import _yes_no_other_ask

    assert _yes_no_other_ask("Does ray.shutdown() kill detached actors?", "does ray stop kill a detached actor")
    assert not _yes_no_other_ask("Does ray stop kill detached actors?", "does Ray stop kill my detached actor")
    # "ray get" and "ray memory" are plain words too often to count as commands.
    assert not _yes_no_other_ask("Is ray.get blocking?", "is ray get blocking")
    # A command the user does not name at all is another ask ("does ray work without the dashboard").
    assert _yes_no_other_ask("Does ray job submit work without the dashboard?", "does ray work without the dashboard")
    assert not _yes_no_other_ask("Does ray job submit work without the dashboard?", "can i submit a job without it")
    # What the user may do is not what Ray does by itself.
    assert _yes_no_other_ask("Can I delete old Ray session directories?", "does ray delete old session directories")
    assert not _yes_no_other_ask("Can I delete old Ray session directories?", "is it safe to delete old sessions")
    assert not _yes_no_other_ask("Can I use GPUs with Ray?", "does ray support gpus")
    # Whether something fails is asked the other way round from whether it can be done: "No." to "Can
    # different nodes run different Ray versions?" would tell "will it error?" that nothing fails.
    versions = "Can different nodes run different Ray versions?"
    assert _yes_no_other_ask(versions, "will ray have errors when two nodes have different python versions")
    assert not _yes_no_other_ask(versions, "can two nodes run different ray versions")
    assert not _yes_no_other_ask("Will Ray fail with different Python versions?", "will ray fail if pythons differ")
    assert _yes_no_other_ask("Will Ray fail with different Python versions?", "does ray work with different pythons")


def test_turning_off_is_disabling_when_short_answers_are_compared():
    from raybot.assistant import _same_action

    def same(text: str) -> str:
        return " ".join(_same_action(text).split())

    assert same("Can I turn off Ray's OOM killer?") == "Can I disable Ray's OOM killer?"
    assert same("is it switched on by default") == "is it enable by default"
    assert same("Is the memory monitor on by default?") == "Is the memory monitor enabled by default?"
    # Words between the verb and "off" stay ("How do I turn Ray token authentication off?").
    assert same("How do I turn Ray token authentication off?") == "How do I disable Ray token authentication ?"
    # Counts are not rewritten: "two" -> "multiple" sent "does ray support inference on multiple worker
    # nodes" to the "No." of "Can one task use two nodes?" (pool full:3670, stop 29).
    assert same("can i run two ray clusters on one machine") == "can i run two ray clusters on one machine"


@pytest.mark.parametrize(
    "question, yes_no",
    [
        ("my actor constructor fails, does ray retry it", True),
        ("i set max_restarts=3, does it also retry the tasks", True),
        ("the head node restarts; will my detached actors survive", True),
        ("if i set kill_idle_workers_interval_ms to 0 do idle workers stay forever", True),
        ("if the task fails ray retries it three times", False),
        ("after a few hours the object store is full and everything slows down", False),
        ("max_retries for my task, is set to 0 in my config", False),
        ("my task fails, does ray retry it. how do I see the error", False),
        (
            "does ray retry a failed task, my actor constructor fails, and the log shows an error at line 3 "
            "in a module I import and then nothing else happens for a long time",
            False,
        ),
    ],
)
def test_a_yes_no_clause_after_a_comma_without_a_question_mark(question, yes_no):
    from raybot.assistant import is_yes_no

    # Found by h34b: the yes/no part comes after a comma and the user typed no "?".
    assert is_yes_no(question) is yes_no


@pytest.mark.parametrize(
    "question, yes_no",
    [
        ("if the head node restarts do workers rejoin automatically?", True),
        ("once the job finishes are the workers killed?", True),
        ("when does ray spill objects?", False),
        ("when will ray retry my task?", False),
        ("when I call ray.get, how do I set a timeout?", False),
        ("after a node dies what happens to its actors?", False),
    ],
)
def test_a_condition_before_a_yes_no_question(question, yes_no):
    from raybot.assistant import is_yes_no

    # A condition first and no comma before the yes/no part (found by h33b and h33c); "when" that
    # asks for a time, or a wh-question after the condition, is no yes/no question.
    assert is_yes_no(question) is yes_no


def test_a_yes_no_short_answer_settles_only_its_own_api_and_default():
    from raybot.assistant import _yes_no_other_ask

    # Another API than the short answer's question names: its "Yes." is about that other API.
    assert _yes_no_other_ask("Is ray.get blocking?", "is ray.wait blocking?")
    assert _yes_no_other_ask("Does ray.put copy the data?", "does ray.get copy the data")
    assert not _yes_no_other_ask("Is ray.get blocking?", "is ray.get blocking when I pass timeout=0")
    # A question naming no API is not held to one.
    assert not _yes_no_other_ask("Is ray.put blocking?", "does putting a big array block?")
    # "by default" on one side only: "can it be done" is not "is it done by default".
    retried = "Can an actor method be retried when my code raises?"
    assert _yes_no_other_ask(retried, "are actor methods retried by default")
    assert _yes_no_other_ask("Is Ray's OOM killer enabled by default?", "can I turn off the oom killer")
    # "Out of the box" asks about the default as much as "by default" does.
    spilled = "Are objects spilled to disk automatically, or do I have to turn spilling on?"
    assert not _yes_no_other_ask(spilled, "is spilling to disk turned on out of the box or do i have to enable it")
    assert _yes_no_other_ask(spilled, "can spilling to disk be turned on")
    assert not _yes_no_other_ask("Is the OOM killer on by default?", "is the oom killer enabled by default")
    # "automatically" on the user's side only: a "No." still holds, a "Yes." may need a setting.
    nested = "Are ObjectRefs inside a list resolved when I pass them to a task?"
    assert not _yes_no_other_ask(nested, "are object refs inside a list resolved automatically", "No. Only ...")
    assert _yes_no_other_ask(retried, "are actor methods retried automatically", "Yes, with max_task_retries ...")
    assert _yes_no_other_ask(retried, "are actor methods retried by default", "No. Only ...")


def test_yes_no_short_answer_of_another_api_does_not_lead(assistant):
    a = assistant.ask("does max_concurrency work for async actors")
    assert a.kind == "short-answer" and "defaults to 1000" not in a.answer.split("\n")[0]
    b = assistant.ask("is ray.wait blocking?")
    assert "ray.get waits" not in b.answer.split("\n")[0]


def test_short_answers_that_compare_or_switch_off_answer_only_those_questions():
    from raybot.assistant import match_short_answer
    from raybot.kb import ShortAnswer

    class E:  # the one attribute match_short_answer reads
        answers = [
            ShortAnswer("What is the difference between ray.get and ray.wait?", "ray.get blocks ...", "u"),
            ShortAnswer("How do I disable object spilling?", "Set ...", "u"),
            ShortAnswer("How do I submit a Ray job?", "ray job submit ...", "u"),
            ShortAnswer("How do I stop worker output from being printed in the driver?", "log_to_driver ...", "u"),
        ]

    def lead(question):
        sa = match_short_answer(E, prepare_query(question), lambda t: 1.0)
        return sa.question if sa else None

    assert lead("what is the difference between ray.get and ray.wait") == E.answers[0].question
    assert lead("ray.get vs ray.wait") == E.answers[0].question
    assert lead("how to set num_cpus in ray.wait and ray.get") is None  # no comparison asked
    assert lead("how do I disable object spilling") == E.answers[1].question
    assert lead("is it possible to prevent object spilling?") == E.answers[1].question
    assert lead("how do I clear object spilling files") is None
    assert lead("how do I submit a ray job") == E.answers[2].question
    assert lead("can I run my code without ray job submit?") is None
    # "stop X from ..." switches something off too: no answer for someone who wants to see the output.
    assert lead("how do I see the output of print statements of workers in the driver?") is None
    assert lead("how do I suppress worker output printed in the driver?") == E.answers[3].question


def test_a_yes_no_question_is_led_by_the_short_answer_that_settles_it_when_close():
    from raybot.assistant import match_short_answer
    from raybot.kb import ShortAnswer

    class E:
        answers = [
            ShortAnswer("What does ray.shutdown() do?", "It disconnects ...", "u"),
            ShortAnswer("Do I need to call ray.shutdown()?", "No. It runs by itself ...", "u"),
        ]

    def lead(question):
        sa = match_short_answer(E, prepare_query(question), lambda t: 1.0)
        return sa.answer.split(".")[0] if sa else None

    assert lead("do I need to call ray.shutdown") == "No"
    assert lead("what does ray.shutdown do") == "It disconnects "


def test_a_choice_with_or_only_gets_no_yes_or_no():
    from raybot.assistant import match_short_answer
    from raybot.kb import ShortAnswer

    class E:
        answers = [ShortAnswer("Can the OOM killer kill actors?", "Yes. It picks among all workers ...", "u")]

    def lead(question):
        sa = match_short_answer(E, prepare_query(question), lambda t: 1.0)
        return sa.answer.split(".")[0] if sa else None

    assert lead("can the oom killer kill actors?") == "Yes"
    # "actors or only tasks?" asks which of two; "Yes." would not tell.
    assert lead("does the oom killer kill actors or only tasks?") is None
    assert lead("can the OOM killer kill actors, or just tasks?") is None


def _short_answer_lead(questions, asked, weights=None):
    """The question of the short answer match_short_answer picks among ``questions`` for ``asked``
    (every word weighing 1 unless ``weights`` says otherwise), or None."""
    from raybot.assistant import match_short_answer
    from raybot.kb import ShortAnswer

    class E:  # the one attribute match_short_answer reads
        answers = [ShortAnswer(q, "A ...", "u") for q in questions]

    sa = match_short_answer(E, prepare_query(asked), lambda t: (weights or {}).get(t, 1.0 if weights is None else 2.0))
    return sa.question if sa else None


def test_a_where_short_answer_answers_only_a_question_about_a_place():
    questions = ["Where are spilled objects stored on disk, and how do I change the spill directory?"]
    assert _short_answer_lead(questions, 'what does "Spilled 2048 MiB, 12 objects" mean for spilled objects') is None
    assert _short_answer_lead(questions, "where are my spilled objects stored") == questions[0]
    assert _short_answer_lead(questions, "spilled objects fill my disk, how to change the spill dir") == questions[0]
    logs = ["Where are the autoscaler logs?"]
    assert _short_answer_lead(logs, "how do i see the autoscaler logs") == logs[0]


def test_a_long_question_that_only_names_the_entrys_topic_gets_none_of_its_short_answers():
    # Six questions about placement groups: "placement" and "group" are the topic. Weights as the
    # shipped kb's term_weight gives them (rare words weigh more; others 2.0).
    questions = [
        "How do I get the placement group the current task or actor runs in?",
        "How do I remove a placement group?",
        "What does PACK mean for a placement group?",
        "Can a placement group reserve custom resources?",
        "How do I name a placement group?",
        "How do I size a placement group bundle?",
    ]
    weights = {"placement": 2.1, "group": 1.5, "current": 1.7, "task": 0.2, "actor": 0.4, "run": 0.5, "rotate": 5.0}

    def lead(asked):
        return _short_answer_lead(questions, asked, weights)

    long_q = (
        "Question on placement groups: I create a placement group for four GPUs with STRICT_SPREAD "
        "on a cluster with 2 GPU nodes that have 2 GPUs each, and it never becomes ready. Why?"
    )
    assert lead(long_q) is None
    # In a short question the topic words are the ask, unless it names a rare word the short
    # answer's question lacks ("rotate" weighs 5 in the shipped kb).
    assert lead("how do I remove a placement group") == questions[1]
    assert lead("how do I rotate a placement group") is None
    assert lead("current placement group of a task") == questions[0]
    # A definition question is not answered with how to do something with the thing.
    assert lead("what is a placement group bundle") is None
    assert lead("how big should a placement group bundle be, how do I size it") == questions[5]


def test_a_yes_no_short_answer_about_doing_without_does_not_answer_needing():
    questions = ["Does ray job submit work without the dashboard?"]
    assert _short_answer_lead(questions, "does ray job submit work without the dashboard") == questions[0]
    # Its "No." would read as "it does not need the dashboard".
    assert _short_answer_lead(questions, "does ray job submit need the dashboard") is None
    # Both say "without", about different things.
    assert _short_answer_lead(questions, "does ray job submit work without ray remote") is None


def test_a_yes_no_fact_question_is_not_led_by_a_why_or_by_the_other_direction():
    questions = ["Why is the numpy array I got from ray.get read-only?", "Can a task return a generator?"]
    assert _short_answer_lead(questions, "why is my numpy array from ray.get read only") == questions[0]
    assert _short_answer_lead(questions, "is a numpy array from ray.get zero copy and read only?") is None
    assert _short_answer_lead(questions, "can a task return a generator") == questions[1]
    assert _short_answer_lead(questions, "can I pass a generator to a task") is None


def test_the_quoted_yes_no_ask_is_the_one_about_a_fact():
    from raybot.assistant import yes_no_clause

    text = "Has anyone run into this? Will the tasks on that node be killed if the raylet dies?"
    assert yes_no_clause(text) == "Will the tasks on that node be killed if the raylet dies?"
    text = "Is there a questions channel? I want tasks to run with another UID. Is this possible?"
    assert yes_no_clause(text) == "Is this possible?"


def test_a_question_typed_after_a_log_line_is_the_users_own_words():
    q = prepare_query(
        "WARNING: 8 PYTHON worker processes have been started on node: abc with address: 10.0.0.1. "
        "This could be a result of using a large number of actors. how do I cap the number of workers"
    )
    assert q.message.startswith("WARNING: 8 PYTHON") and "cap" not in q.message
    assert q.ask_text == "how do I cap the number of workers"


def test_quoted_code_or_docs_is_not_a_pasted_message():
    from raybot.signatures import pasted_message

    # A line of code in backticks and a sentence quoted from the docs are the user's context.
    assert pasted_message("how do I run `futures = [foo.remote(arg) for arg in args]` and collect them?") == ""
    assert pasted_message('the docs say "Numpy arrays in the object store are shared between workers" - true?') == ""
    # A quoted Ray message still is one, with or without a log prefix.
    text = 'why "Some workers of the worker process(122362) have not registered within the timeout."'
    assert pasted_message(text).startswith("Some workers of the worker process")
    assert pasted_message("seeing `due to error:Task failed due to the node dying` a lot") != ""
    # The words between two backtick spans are the user's own, not a quoted message.
    two_spans = "why does `ray.wait()` not raise the remote task exception when it failed while `ray.get()` does?"
    assert pasted_message(two_spans) == ""


def test_tuning_without_files_prints_usage_and_rewrites_nothing():
    from pathlib import Path

    from raybot import tuning

    before = Path(tuning.__file__).read_bytes()
    with pytest.raises(SystemExit) as exc:
        tuning.main([])
    assert "usage: python -m raybot.tuning" in str(exc.value.code)
    assert Path(tuning.__file__).read_bytes() == before


def test_entry_strength_counts_the_next_chunks_of_an_entry():
    from raybot.retrieve import entry_strength

    # Entry 0: one chunk at 0.8; entry 1: 0.8 and 0.5; entry 2: 0.9 and a negative second;
    # entry 3: no chunk at all. Chunks come in no particular order.
    codes = [1, 2, 0, 1, 2]
    scores = [0.5, 0.9, 0.8, 0.8, -0.2]
    out = entry_strength(codes, scores, 4, 1, 0.3).tolist()
    assert out[0] == pytest.approx(0.8)
    assert out[1] == pytest.approx(0.8 + 0.3 * 0.5)  # the second chunk lifts it above entry 0
    assert out[2] == pytest.approx(0.9)  # a negative second chunk neither helps nor hurts
    assert out[3] == float("-inf")
    # With two more chunks counted, only the next two best are added, not the fourth.
    out = entry_strength([5, 5, 5, 5], [1.0, 3.0, 1.0, 2.0], 6, 2, 0.2).tolist()
    assert out[5] == pytest.approx(3.0 + 0.2 * (2.0 + 1.0))
    assert entry_strength([], [], 2, 1, 0.3).tolist() == [float("-inf")] * 2


def test_an_entry_with_several_matching_chunks_outranks_a_single_lucky_chunk():
    # The ranking weights are what the real dev and curated sets were measured with: a second
    # chunk must be able to decide between two entries whose best chunks tie.
    from raybot import tuning
    from raybot.retrieve import entry_strength

    assert 0 < tuning.SECOND_CHUNK_WEIGHT < 1 and 0 < tuning.LEXICAL_MORE_CHUNKS_WEIGHT < 1
    a, b = entry_strength([0, 1, 1], [0.7, 0.7, 0.4], 2, 1, tuning.SECOND_CHUNK_WEIGHT).tolist()
    assert b > a


def test_a_sentence_the_short_answer_already_said_is_not_repeated():
    from raybot.answer import drop_repeated_sentences

    said = "5 minutes in the cluster launcher's provider defaults (AWS, GCP, Azure, local, vSphere; 1 for Spark)."
    text = (
        "It terminates idle nodes after that long. Provider defaults are 5 minutes (AWS, GCP, Azure, local, "
        "vSphere; 1 for Spark). The head node stays.\n\n- Provider defaults are 5 minutes (AWS, GCP, Azure, local)."
    )
    out = drop_repeated_sentences(text, said)
    assert out == "It terminates idle nodes after that long. The head node stays.\n\n" + text.split("\n\n")[1]
    # A number or a setting name the short answer lacks keeps the sentence.
    for kept in (
        "Provider defaults are 5 minutes (AWS, GCP, Azure, local, vSphere; 2 for Spark).",
        "Provider defaults are 5 minutes (AWS, GCP, Azure, local, vSphere; see idle_timeout_minutes).",
    ):
        assert drop_repeated_sentences(kept, said) == kept


def test_a_quoted_message_is_never_cut_into_two_sentences():
    # "... Owners" inside a quotation is no sentence end: dropping only its second half as a repeat of the short
    # answer left an open quotation and parenthesis on screen (stop 47, objectref-across-ray-sessions).
    from raybot.answer import drop_repeated_sentences, whole_sentences

    text = (
        'After a new ray.init(), ray.get(old_ref) raised ValueError at once ("You are trying to access Ray objects '
        'whose owner is unknown ... Owners not found for objects [...]"), with or without a timeout. '
        "Recreate the data in the new session."
    )
    assert len(whole_sentences(text)) == 2
    said = "Owners not found for objects: with or without a timeout, ray.get did not hang."
    out = drop_repeated_sentences(text, said)
    assert out.count('"') % 2 == 0 and out.count("(") == out.count(")")
    assert out.endswith("Recreate the data in the new session.")
    # Sentences outside quotes still split as before.
    parts = whole_sentences("One. Two (a. B) three. Four `x. Y` five.")
    assert parts == ["One.", "Two (a. B) three.", "Four `x. Y` five."]


def test_swapped_neighbour_letters_are_a_typo_not_an_unknown_word(shipped_retriever):
    from raybot.retrieve import swapped_letters

    assert swapped_letters("ndoe", "node") and swapped_letters("actro", "actor")
    assert not swapped_letters("node", "node") and not swapped_letters("rust", "rush")
    assert not swapped_letters("nodes", "node") and not swapped_letters("nedo", "node")
    # "ndoe" is too short for the similarity ratio (0.75) to call it a typo of "node"; before, it
    # counted as a word the kb never uses and cost the answer a quarter of its confidence.
    typo = shipped_retriever.unknown_terms(prepare_query("how do I remove a dead ndoe from my cluster?"))
    assert typo == []
    assert shipped_retriever.unknown_terms(prepare_query("how do I remove a dead zlorp from my cluster?")) == ["zlorp"]


def test_a_definition_is_asked_for_only_by_define_or_definition():
    from raybot.assistant import _ASKS_DEFINITION

    assert _ASKS_DEFINITION.search("define an ObjectRef") and _ASKS_DEFINITION.search("definition of a placement group")
    # Code that defines things, or "definitions" of the user's own classes, is no request for a definition.
    assert not _ASKS_DEFINITION.search("my actor class definitions create objects in a loop, how do I free them?")
    assert not _ASKS_DEFINITION.search("a function defined in my module fails to import in the worker, why?")


def test_cluster_launcher_commands_are_identifiers(assistant):
    from raybot.retrieve import extract_signals

    assert "ray up" in extract_signals("What does ray up do?")
    assert "ray rsync-up" in extract_signals("ray rsync-up cluster.yaml does nothing")
    # All its other words are stop words: before, this was "too short for me to know".
    ans = assistant.ask("What does ray up do?")
    assert ans.kind != "clarify" and ans.topic == "cluster-launcher-cli-commands"


def test_typo_tables_tell_a_slip_from_a_word():
    from raybot import typos

    assert "clster" in typos.one_slip("cluster") and "culster" in typos.one_slip("cluster")
    assert "kluster" not in typos.one_slip("cluster")  # the first letter is kept
    surface = typos.surface_words(["The cluster and its nodes.", "A cluster, a node.", "my.dotted name --flag"])
    assert surface == {"cluster": 2, "node": 1, "nodes": 1, "name": 1}
    english = {"clusters": 9, "noted": 3, "nodal": 1}
    near = typos.english_near(surface, english)
    assert "clusters" in near and "noted" not in near  # "noted" is two slips from "node"
    found = typos.fixes("why does my clutser lose nodz? and clusters?", surface, frozenset(near))
    assert found == {"clutser": "cluster"}  # "nodz" is too short, "clusters" is an English word
    assert typos.fix_text("Clutser down", found) == "cluster down"
    # An index built before the tables existed: no fixes, no error.
    assert typos.fixes("my clutser", {}, frozenset()) == {}
    # Two kb words one slip away: the swap of two neighbouring letters wins over the more used word.
    both = {"status": 1, "starts": 5}
    assert typos.fixes("ray stauts hangs", both, frozenset()) == {"stauts": "status"}
    assert typos.fixes("ray stbrts hangs", both, frozenset()) == {"stbrts": "starts"}


def test_misspelt_words_are_read_as_the_kb_word_they_stand_for(shipped_retriever, assistant):
    from raybot.retrieve import prepare_query

    fixes = shipped_retriever.typo_fixes
    assert fixes("How to get NodeState from the ray cluter?") == {"cluter": "cluster"}
    assert fixes("my enviornment fails and memroy keeps growing") == {
        "enviornment": "environment",
        "memroy": "memory",
    }
    # Not slips: English words the kb does not use, names in capitals, a changed first letter
    # (names raybot does not know), and words shorter than five letters.
    for text in ("masking rewards", "sharded tensors", "RLock pickling", "knative autoscaling", "kustomize", "logz"):
        assert fixes(text) == {}, text
    # The cleaned text (what signatures are matched on) stays as typed; what is embedded changes.
    q = shipped_retriever.correct_typos(prepare_query("why does the drvier log every task?"))
    assert "drvier" in q.text and "driver" in q.dense_text and q.typos == {"drvier": "driver"}
    # A pasted message is not the user's words: it is left as Ray wrote it.
    pasted = shipped_retriever.correct_typos(prepare_query("RuntimeError: the drvier failed\n```\nray.init()\n```"))
    assert "drvier" in pasted.message and pasted.typos == {} and "drvier" in pasted.dense_text
    # The same question with and without the slip goes to the same entry.
    typed = assistant.ask("how do I stop the task logs going to the drvier?")
    spelt = assistant.ask("how do I stop the task logs going to the driver?")
    assert typed.topic == spelt.topic and typed.topic is not None
    assert abs(typed.confidence - spelt.confidence) < 0.05


def test_light_stem_lets_the_forms_of_one_word_meet():
    from raybot.tokens import covered, entry_terms, light_stem

    for forms in (("fill", "fills", "filling", "filled"), ("reduce", "reducing", "reduced"), ("run", "running")):
        assert len({light_stem(w) for w in forms}) == 1, forms
    assert light_stem("policies") == "policy" and light_stem("status") == "status"
    assert light_stem("address") == "address" and light_stem("processes") == "process"
    terms = entry_terms("The object store fills up when references are kept.")
    assert covered("filling", terms) and covered("kept", terms)
    # Tokens are singular already ("logs" is indexed as "log"): a short one still meets "logging".
    assert covered("logging", entry_terms("Ray only logs a warning."))
    assert not covered("reduce", terms) and not covered("filter", terms)


def test_words_that_only_share_a_common_prefix_do_not_meet():
    from raybot.tokens import covered, entry_terms

    # Pool slack:1026 ("multithreads in one process") was led by an answer about "multiple jobs".
    assert not covered("multithreads", entry_terms("Several users can run multiple jobs."))
    assert not covered("interval", entry_terms("An internal error."))
    assert not covered("reconnect", entry_terms("Object reconstruction."))
    # Forms of one word still meet through their longer prefix or their stem.
    assert covered("scheduling", entry_terms("The scheduler places tasks."))
    assert covered("intervals", entry_terms("The interval."))
    assert covered("multithreaded", entry_terms("A multithreading actor."))


def test_a_word_the_entry_uses_in_another_form_is_not_missing(shipped_retriever):
    # objects-not-freed says the store "fills"; a user writes "filling". Before, the 5-letter
    # prefix rule ("~filli" against "~fills") called it a term the entry does not address.
    query = prepare_query("object store keeps filling up and spilling, how to reduce memory")
    missing, _ = shipped_retriever.missing_terms(query, "objects-not-freed")
    assert "filling" not in missing


def test_or_compares_only_inside_a_question():
    from raybot.assistant import _COMPARES

    assert _COMPARES.search("Should I use a task or an actor?")
    assert _COMPARES.search("task or actor? I am not sure")
    # Dev row 77: "or" in the story before a question about task ids is no comparison.
    story = "not enough memory or cpu, so the task was not scheduled. How do I map a task id to a function?"
    assert not _COMPARES.search(story)


def test_whats_asks_for_a_default_and_auth_is_authentication():
    from raybot.assistant import asks_default
    from raybot.tokens import tokenize

    # Users drop the apostrophe; "whats the default X" is as much a default question as "what's".
    assert asks_default("whats the default maximum_startup_concurrency")
    assert asks_default("what's the default maximum_startup_concurrency")
    # "token auth" is how users write it; the kb says "token authentication".
    assert "authentication" in tokenize("is token auth on by default")


def test_a_default_question_gets_a_boolean_default_and_never_the_next_bullet(assistant):
    from pathlib import Path

    from raybot.assistant import default_sentence
    from raybot.kb import Entry
    from raybot.retrieve import prepare_query

    entry = Entry(
        id="x",
        title="t",
        kind="config",
        path=Path("x.md"),
        sha256="",
        sections={
            "Answer": "A task is retried 3 times by default when its worker dies.",
            "Details": (
                "- `max_retries` is 3 (L1).\n- `retry_exceptions` defaults to `False` (L9).\n- Seen once by default."
            ),
        },
    )
    got = default_sentence(entry, prepare_query("what is the default for retry_exceptions"), assistant.retriever)
    # A default may be True/False, not only a number; the bullet after it is not part of the sentence.
    assert got == "`retry_exceptions` defaults to `False` (L9)."
    # The real entry leads with that default too.
    lead = assistant.ask("what is the default for retry_exceptions").answer.split("\n\n")[1]
    assert "defaults to `False`" in lead, lead


def test_a_task_retry_question_is_not_answered_by_an_actor_restart(assistant):
    from raybot.assistant import _opposite_asked

    actor = "Is an actor restarted after the OOM killer kills it?"
    assert _opposite_asked(actor, "does ray restart tasks killed by oom")
    assert not _opposite_asked(actor, "my actor got OOM killed, will it restart")
    # Outside retries and restarts, what holds for an actor's worker often holds for a task's.
    assert not _opposite_asked("How do I find the PID of an actor's worker?", "how do i find the pid of my task")
    got = assistant.ask("does ray restart tasks killed by oom")
    assert got.kind == "short-answer" and "task_oom_retries" in got.answer.split("\n\n")[1]


def test_short_answers_tell_kinds_of_id_asyncio_and_complaints_apart(assistant):
    from raybot.assistant import _other_id_kind
    from raybot.tokens import covered, stem_keys

    # The one word that tells the IDs apart is too common to weigh anything.
    assert _other_id_kind("How do I get the current task ID inside a Ray task?", "how to get the node id in a task")
    assert not _other_id_kind("How do I get the node ID inside a task?", "current node_id inside a task")
    assert not _other_id_kind("How do I get the node ID inside a task?", "what is my node's ip")
    ids = {
        "how to get the current node id inside a task": "get_node_id()",
        "how to get the task id inside a task": "get_task_id()",
    }
    for q, call in ids.items():
        got = assistant.ask(q)
        assert got.kind == "short-answer" and call in got.answer.split("\n\n")[1][:60], (q, got.answer[:200])
    # asyncio is not another form of async.
    assert not covered("asyncio", set(stem_keys("async")) | {"async"})
    assert covered("asynchronous", set(stem_keys("async")) | {"async"})
    lead = assistant.ask("can ray actors have async methods").answer.split("\n\n")[1]
    assert lead.startswith("**Yes."), lead
    # "X doesn't stop my actor task" reports a how-to already tried: the answer is why.
    lead = assistant.ask("ray.cancel doesnt stop my actor task").answer.split("\n\n")[1]
    assert "is_canceled" in lead, lead


def test_a_raysystemerror_no_module_named_is_the_import_failure_raybot_knows(assistant):
    from raybot.signatures import error_names

    assert error_names("ray.exceptions.RaySystemError: System error: No module named 'foo'") == ["ModuleNotFoundError"]
    assert error_names("RayTaskError(ModuleNotFoundError): ray::f()") == ["ModuleNotFoundError"]
    assert error_names("ModuleNotFoundError: No module named 'mypkg'") == []  # Python's own: generic
    got = assistant.ask("ray.exceptions.RaySystemError: System error: No module named 'transformers_modules'")
    assert got.kind != "unknown-message" and got.entries[:1] == ["module-not-found-in-workers"], got.entries


def test_an_answer_opening_with_yes_or_no_answers_only_a_yes_no_question(assistant):
    from raybot.assistant import _YES_NO_OPENING

    assert _YES_NO_OPENING.match("Not necessarily. Ray appends that sentence whenever ...")
    assert _YES_NO_OPENING.match("No, not by default: retry_exceptions is False.")
    assert not _YES_NO_OPENING.match("Nothing by itself: it is a name and a count ...")
    # The story of a head pod OOMKilled asks what eats memory: "Not necessarily." is no answer.
    got = assistant.ask(
        "we run ray on k8s with kuberay and the head pod keeps getting OOMKilled after a day or so. "
        "nothing else runs on the head. any idea what eats the memory?"
    )
    assert not got.answer.split("\n\n")[1].startswith("**Not necessarily"), got.answer[:300]


def test_is_there_a_way_is_not_denied_by_a_no_about_another_fact(assistant):
    q = (
        "We have a long running actor that caches a big pandas dataframe (like 8GB). After a few hours the node "
        "gets OOM killed by ray. Is there a way to tell ray that this actor needs that much memory so it doesn't "
        "schedule other stuff on that node?"
    )
    lead = assistant.ask(q).answer.split("\n\n")[1]
    assert not lead.startswith("**No"), lead
    assert "memory=" in lead
    # The fact question keeps its "No.": memory= does not protect a task from the OOM killer.
    lead = assistant.ask("can i set memory= on a task so it doesnt get oom killed").answer.split("\n\n")[1]
    assert lead.startswith("**No."), lead


def test_a_statement_with_a_question_mark_asks_yes_or_no():
    from raybot.assistant import is_yes_no

    assert is_yes_no("kuberay head pod restart loses all my jobs?")
    assert is_yes_no("ray.get blocking?")
    assert is_yes_no("async actor methods run concurrently?")
    # A topic with a question mark asks what happens; question words, choices and defaults are no yes/no.
    assert not is_yes_no("ray.cancel force=True on an actor task?")
    assert not is_yes_no("RAY_memory_monitor_refresh_ms default?")
    assert not is_yes_no("head node or worker node?")
    # Only when it is the whole question: "ray status shows the nodes as idle? how to debug?" asks how.
    assert not is_yes_no("ray status shows the nodes as idle? how to debug?")


def test_head_restart_question_gets_its_yes(assistant):
    lead = assistant.ask("kuberay head pod restart loses all my jobs?").answer.split("\n\n")[1]
    assert lead.startswith("**Yes, without GCS fault tolerance"), lead


def test_a_bare_exception_class_name_finds_the_entry_that_names_it(assistant):
    # A class name embeds poorly; the one entry that names it in its title or tags is the answer.
    for q in ("ObjectFetchTimedOutError", "what is ObjectFetchTimedOutError?"):
        got = assistant.ask(q)
        assert got.in_scope and got.entries[:1] == ["object-lost-error-family"], (q, got.kind, got.entries)
    from raybot.retrieve import prepare_query

    assert assistant._names_only_its_class(prepare_query("ObjectFetchTimedOutError"), "object-lost-error-family")
    # More than the name: ranking decides, as for any question.
    assert not assistant._names_only_its_class(
        prepare_query("ObjectFetchTimedOutError how do i raise the timeout"), "object-lost-error-family"
    )


def test_a_library_question_is_not_answered_with_a_core_entry_that_never_names_the_library(assistant):
    # The Core entry on runtime_env pip options answers "how do I set pip in runtime_env", not
    # how Serve takes it (Serve's config does); raybot says which library it is and points there.
    got = assistant.ask("how to specify runtime_env pip requirements in Ray Serve?")
    assert not got.in_scope and got.kind == "decline", (got.kind, got.entries)
    assert "Ray Serve" in got.answer and "https://docs.ray.io/en/latest/serve/" in got.answer
    from raybot.retrieve import prepare_query

    q = prepare_query("ray serve use fractional gpus")
    assert assistant._library_not_covered(q, "fractional-gpus") == "Ray Serve"
    # An entry whose questions are about the library may still answer ...
    assert (
        assistant._library_not_covered(prepare_query("why does ray serve start one ray::IDLE per cpu?"), "gh-47579")
        is None
    )
    # ... but not one that names it in passing in an answer ("Ray's docs point ML workloads (Ray
    # Train, Tune) to the Jobs API" in the notebook entry; Serve among the libraries a cluster runs).
    train_job = "how would I run a ray train job on a remote ray cluster from a jupyter notebook?"
    assert assistant._library_not_covered(prepare_query(train_job), "ray-in-jupyter-notebook") == "Ray Train"
    serve_vs_cluster = prepare_query("what is the difference between ray cluster and ray serve")
    assert assistant._library_not_covered(serve_vs_cluster, "ray-cluster-what-it-is") == "Ray Serve"
    # A library that only one short answer names is covered for that short answer's question, not for
    # any question about the library that lands on the entry (stop 36, second pool: rerank:933).
    serve_cli = prepare_query("serve deploy fails with Failed to connect to Ray at address: http://localhost:52365")
    assert assistant._library_not_covered(serve_cli, "ray-client-vs-ray-init-address") is None
    serve_http = prepare_query("how can i allow ray cluster worker to take ray serve http request?")
    assert assistant._library_not_covered(serve_http, "ray-client-vs-ray-init-address") == "Ray Serve"
    # Only the sentences that ask count: Tune as the user's context does not make it a Tune question.
    story = (
        "I'm using python and windows, and ray hangs on `tune.run()`. "
        "How can I use ray in windows from python without launching the dashboard?"
    )
    assert assistant._library_not_covered(prepare_query(story), "run-without-dashboard") is None
    assert assistant.ask(story).entries[:1] == ["run-without-dashboard"]


@pytest.mark.parametrize(
    "text,names",
    [
        ("how to set scheduling_strategy for ray serve?", ["Ray Serve"]),
        ("my TuneConfig has num_samples=10", ["Ray Tune"]),
        ("XGBoostTrainer fails with a placement group timeout", ["xgboost-ray / lightgbm-ray"]),
        ("ScalingConfig(num_workers=4) never starts", ["Ray Train"]),
        ("how to read the ray dataset from S3", ["Ray Data"]),
        ("serve start without ray cluster from cli", ["Ray Serve"]),
        ("how can I have one deployment per cluster node", ["Ray Serve"]),
        ("why does the next workflow function get the object itself", ["Ray Workflows"]),
        ("why are my ray::IDLE workers holding memory?", []),
    ],
)
def test_libraries_named(text, names):
    from raybot.signatures import LIBRARY_DOCS, libraries_named

    got = [name for name, _ in libraries_named(text)]
    assert got == names
    assert all(name in LIBRARY_DOCS for name in got)


def test_who_and_where_short_answers_do_not_answer_a_yes_no_question(assistant):
    q = (
        "If task A creates an object with ray.put and returns the ref to the driver, and then task A's worker "
        "exits, can the driver still get the object?"
    )
    lead = assistant.ask(q).answer.split("\n\n")[1]
    assert not lead.startswith("**The caller"), lead  # that is who owns a task's *return value*


def test_a_paste_with_words_after_it_on_its_line_is_still_known(assistant):
    got = assistant.ask("TypeError: cannot pickle '_thread.lock' object when passing my db client to a task")
    assert got.kind != "unknown-message" and got.entries[:1] == ["could-not-serialize-error"], got.entries
    # Made-up text that no question line quotes stays unrecognised.
    got = assistant.ask("RuntimeError: the flux capacitor of worker 7 overheated during the warp phase")
    assert got.kind == "unknown-message"


def test_two_named_outcomes_are_not_answered_yes_or_no(assistant):
    from raybot.assistant import _OUTCOME_CHOICE

    assert _OUTCOME_CHOICE.search("what happens? Will it wait forever or error out?")
    assert not _OUTCOME_CHOICE.search("Will it restart or not?")
    assert not _OUTCOME_CHOICE.search("can I use pip or conda in a runtime_env?")
    q = (
        'Question about placement groups: if I create a PG with 4 bundles of {"GPU":1} with STRICT_SPREAD and '
        "only have 3 GPU nodes, what happens? Will it wait forever or error out?"
    )
    lead = assistant.ask(q).answer.split("\n\n")[1]
    # Neither the "Yes." of a placement group's lifetime nor what happens when a group is removed.
    assert not lead.startswith(("**Yes", "**No", "**remove_placement_group")), lead


def test_a_complaint_is_not_answered_by_what_the_thing_does(assistant):
    from raybot.assistant import _COMPLAINT

    assert _COMPLAINT.search("ray.shutdown hangs") and _COMPLAINT.search("ray stack prints nothing")
    assert not _COMPLAINT.search("what does ray stack do")
    assert _COMPLAINT.search("ray list objects is empty") and _COMPLAINT.search("get_gpu_ids returns an empty list")
    # They ran the command and it failed to kill: a how-to of that command is no answer.
    assert _COMPLAINT.search("ray job stop doesnt kill the processes")
    assert _COMPLAINT.search("dashbaord not loading on port 8265") and not _COMPLAINT.search("loading a model")
    assert _COMPLAINT.search("ray.get blocks forever and the dashboard shows the task finished")
    lead = assistant.ask("ray job stop doesnt kill the processes").answer.split("\n\n")[1]
    assert not lead.startswith("**From a shell: ray job stop"), lead
    for q in ("ray.shutdown hangs", "ray stack prints nothing"):
        lead = assistant.ask(q).answer.split("\n\n")[1]
        assert not lead.startswith(("**It disconnects", "**It runs 'sudo py-spy")), (q, lead)


def test_slips_in_question_words_are_read_as_the_word(assistant):
    from raybot.typos import fixes

    assert fixes("whta is the default num_cpus for a task", {}, frozenset()) == {"whta": "what"}
    assert fixes("hwo do i see my gpus", {}, frozenset()) == {"hwo": "how"}
    lead = assistant.ask("whta is the default num_cpus for a task").answer.split("\n\n")[1]
    assert "1 CPU" in lead and not lead.startswith("An actor"), lead


def test_a_why_question_is_not_answered_by_a_how_to(assistant):
    lead = assistant.ask("why did ray kill my task when the node had free memory").answer.split("\n\n")[1]
    assert not lead.startswith("**Pass memory="), lead


def test_an_inflected_kb_word_is_not_an_unknown_word():
    from raybot.retrieve import _inflection_known

    vocab = {"avoid", "spill", "node", "schedule", "run"}
    for word in ("avoiding", "avoided", "spilled", "nodes", "scheduled", "scheduler", "running"):
        assert _inflection_known(word, vocab), word
    for word in ("optuna", "kubeflow", "sing"):
        assert not _inflection_known(word, vocab), word


def test_below_one_is_the_opposite_of_above_one():
    from raybot.assistant import _opposite_asked

    # the constructor is not a method
    assert _opposite_asked(
        "What happens if my actor's __init__ raises an exception?", "my actor method raised, is it dead?"
    )
    # one node is not several
    assert _opposite_asked("Can one task use GPUs on two nodes?", "can i run cpu and gpu tasks on the same node")
    # sharing one GPU is not using several
    assert _opposite_asked(
        "Can an actor and a task use the same GPU at the same time?", "can one actor use several gpus"
    )
    # a crash is not an exception the user's code raised
    assert _opposite_asked("Are tasks retried by default when their worker crashes?", "are tasks retried on exceptions")
    # and a copy is the opposite of zero-copy
    assert _opposite_asked("Is ray.get zero-copy for numpy arrays?", "does ray copy numpy arrays passed to tasks")
    assert not _opposite_asked("Does ray.put copy the value?", "does ray.put copy my numpy array")

    assert _opposite_asked("Can an actor use more than one CPU?", "what does num_cpus less than one do for an actor")
    assert not _opposite_asked("What does a fractional num_cpus such as 0.25 do?", "num_cpus less than one?")


def test_a_long_storys_words_do_not_pick_a_short_answer_its_question_sentences_do_not_ask():
    # Over 128 words, only the question sentences are the ask: a short answer whose words appear only
    # in the story ("add a worker node to the running cluster") does not lead the reply.
    story = " ".join(["Every morning I add a worker node to the running cluster with ray start."] * 12)
    asked = story + " What could make that machine crash later on?"
    questions = ["How do I add a worker node to a running cluster?"]
    assert _short_answer_lead(questions, asked) is None
    assert _short_answer_lead(questions, "how can I add another worker node to the running cluster") == questions[0]


def test_a_comparison_question_prefers_a_short_answer_that_compares():
    # The how-to shares a slightly larger part of its words with the question; the comparison still leads.
    questions = [
        "How do I submit a job to a remote Ray cluster?",
        "What is the difference between using ray.init() in a script and using the Job Submission API?",
    ]
    weights = {"submit": 1.0, "job": 1.0, "remote": 0.6, "cluster": 0.4, "init": 1.0, "script": 3.0, "api": 1.2}
    assert (
        _short_answer_lead(questions, "ray.init vs ray job submit api, which one should I use", weights)
        == (questions[1])
    )
    assert _short_answer_lead(questions, "how do I submit a job to my remote ray cluster", weights) == questions[0]


def test_a_by_default_short_answer_does_not_answer_a_question_that_sets_the_value():
    questions = ["Are actors restarted by default?"]
    assert _short_answer_lead(questions, "are actors restarted by default?") == questions[0]
    # The user set max_restarts=3: the default (0, "No.") is not their case.
    asked = "with max_restarts=3, are actors restarted automatically when their node dies?"
    assert _short_answer_lead(questions, asked) is None


def test_lazy_patterns_compile_on_first_use_and_behave_as_compiled():
    import re

    from raybot.lazyre import lazy

    source, text = r"\b(ray)[ :]+(\w+)", "Ray: IDLE and ray status, RAY start"
    p, q = lazy(source, re.I), re.compile(source, re.I)
    assert "_compiled" not in vars(p)  # nothing compiled at import
    assert p.pattern == source
    assert p.search(text).group(2) == q.search(text).group(2) == "IDLE"
    assert "_compiled" in vars(p)
    assert p.findall(text) == q.findall(text)
    assert [m.span() for m in p.finditer(text)] == [m.span() for m in q.finditer(text)]
    assert p.sub("X", text) == q.sub("X", text) and p.subn("X", text) == q.subn("X", text)
    assert p.split(text) == q.split(text)
    assert (p.match(text) is None) == (q.match(text) is None)
    assert p.fullmatch("ray status").groups() == ("ray", "status")
    assert p.flags == q.flags and p.groups == 2


def test_needles_of_a_message_leave_out_a_bracketed_placeholder():
    # "process({pid})" is retyped as "process": the words that must be present don't include
    # "process(" (this hid the exact match of such a paste behind a weaker part match).
    from raybot.kb import Signature

    sig = Signature("Some workers of the worker process({pid}) have not registered within the timeout.", "u")
    pasted = "Some workers of the worker process have not registered within the timeout."
    assert all(w in pasted.lower() for w in sig.needles())
    assert sig.pattern().search(pasted)


def test_bigger_and_larger_are_one_word_for_short_answers():
    # "what happens when I ray.put something bigger than the object store" is the short answer
    # "What happens if I ray.put an object larger than the object store?" (their words differ only there).
    from raybot.assistant import _same_action

    assert "larger" in _same_action("something Bigger than the object store").lower()


def test_a_why_sentence_after_the_story_gets_no_how_to_short_answer():
    # They did what the how-to says ("started the head with --num-cpus=0") and ask why it did not work.
    questions = ["How do I set the number of CPUs of the head node to 0 so that it runs no tasks?"]
    story = (
        "I started the head node with --num-cpus=0 so that no tasks run on it, but my actors still end up"
        " on the head. Why? They are created with default options."
    )
    assert _short_answer_lead(questions, story) is None
    assert _short_answer_lead(questions, "how to set the number of cpus for the head node to 0 so it runs no tasks")


def test_a_node_that_dies_is_not_an_exception_thrown_by_the_task():
    # "Yes." for a node failure would tell the user Ray retries their exceptions (it does not by default).
    questions = ["Are tasks retried when the node they run on dies?"]
    assert _short_answer_lead(questions, "are tasks retried if they throw an exception?") is None
    assert _short_answer_lead(questions, "are my tasks retried when the node they run on dies?") == questions[0]


def test_a_yes_no_short_answer_sharing_only_an_exception_name_needs_the_rest_of_the_ask():
    questions = ["Can I catch GetTimeoutError as a normal TimeoutError?"]
    asked = "GetTimeoutError after ray.get(ref, timeout=10), does the task keep running?"
    # The shipped index's weights: the class names are rarer than "catch" and "normal".
    weights = {"catch": 2.8, "normal": 2.0, "gettimeouterror": 4.0, "timeouterror": 3.5}
    assert _short_answer_lead(questions, asked, weights) is None
    same = "can i catch GetTimeoutError as a normal TimeoutError"
    assert _short_answer_lead(questions, same, weights) == questions[0]


def test_an_actors_constructor_is_its_init_for_short_answers():
    questions = ["Can I use ray.get inside an actor's __init__?"]
    weights = {"inside": 0.5, "actor": 0.4, "init": 2.5, "constructor": 3.0}
    assert _short_answer_lead(questions, "can I use ray.get inside an actor constructor", weights) == questions[0]


def test_what_should_i_do_prefers_the_remedy_over_a_figure():
    questions = [
        "At what size does Ray warn that a remote function is too large?",
        "What should I do about the warning that my remote function or actor class is too large?",
    ]
    weights = {"size": 1.4, "actor": 0.4, "class": 1.2, "warn": 2.0, "remote": 0.5, "function": 0.8, "large": 1.5}
    asked = "the remote function is very large warning, what should i do"
    assert _short_answer_lead(questions, asked, weights) == questions[1]
    assert _short_answer_lead(questions, "at what size does ray warn that a function is large", weights) == questions[0]


def test_a_one_word_short_answer_does_not_answer_a_question_that_names_more():
    questions = ["Does Ray use pickle?"]
    assert _short_answer_lead(questions, "does ray use pickle?") == questions[0]
    assert _short_answer_lead(questions, "does ray pickle my function every time I call .remote()") is None


def test_a_module_named_alone_is_not_a_call_of_that_module():
    # The tokenizer keeps only "asyncio" of "asyncio.run"; the rule tells the two asks apart.
    questions = ["Can I call asyncio.run inside an actor method?"]
    weights = {"call": 0.5, "asyncio": 3.0, "inside": 0.7, "actor": 0.4, "method": 1.5}
    assert _short_answer_lead(questions, "can i use asyncio with ray actors", weights) is None
    assert _short_answer_lead(questions, "can I use asyncio.run inside an actor method?", weights) == questions[0]
    # A variable is not a module: "pg" in the question does not bar "pg.ready()".
    pg = ["Does ray.get(pg.ready()) wait forever for a placement group that cannot fit?"]
    assert _short_answer_lead(pg, "will ray.get on my pg ready wait forever if the group cannot fit?") == pg[0]


def test_a_comparison_with_something_else_is_not_answered():
    questions = ["Can ray.put store an object bigger than the object store?"]
    asked = "is it better to store fewer larger objects than lots of smaller objects?"
    assert _short_answer_lead(questions, asked) is None
    assert _short_answer_lead(questions, "can ray.put store an object larger than the object store") == questions[0]
    # Without "than" in the question the rule says nothing: "more than one CPU" still answers "multiple CPUs".
    cpus = ["Can an actor use more than one CPU?"]
    assert _short_answer_lead(cpus, "can an actor use multiple cpus?") == cpus[0]


def test_a_count_answers_only_a_question_that_asks_for_an_amount():
    questions = ["How many nodes can a Ray cluster have?"]
    assert _short_answer_lead(questions, "how to schedule ray actors to many nodes") is None
    assert _short_answer_lead(questions, "how many nodes can a ray cluster have") == questions[0]
    assert _short_answer_lead(questions, "what is the max number of nodes in a ray cluster") == questions[0]


def test_a_how_to_question_is_not_answered_with_a_reason(assistant):
    from raybot.assistant import match_short_answer
    from raybot.kb import ShortAnswer

    class E:
        answers = [ShortAnswer("Why does ray job submit keep running after it printed the submission ID?", "A", "u")]

    weight = assistant.retriever.term_weight  # the kb's own word weights, as in answers
    asked = "How to submit source code from one machine to another machine using ray job?"
    assert match_short_answer(E, prepare_query(asked), weight) is None
    why_asked = "why does ray job submit keep running after it printed the id?"
    assert match_short_answer(E, prepare_query(why_asked), weight) is E.answers[0]


def test_something_that_keeps_restarting_is_a_complaint_not_a_how_to():
    questions = ["How do I restart a worker node?"]
    assert _short_answer_lead(questions, "my worker nodes keep restarting") is None
    assert _short_answer_lead(questions, "how do i restart a worker node") == questions[0]


def test_a_state_the_user_already_sees_is_a_complaint_not_a_how_to():
    questions = ["How do I get a job's status from Python?"]
    assert _short_answer_lead(questions, "my job status is FAILED and the message just says exit code 1") is None
    assert _short_answer_lead(questions, "the actor state shows DEAD, why") is None
    assert _short_answer_lead(questions, "how do I get the status of my job from python") == questions[0]


def test_objectrefgenerator_is_not_another_form_of_objects():
    from raybot.tokens import covered, entry_terms

    asked = entry_terms("does ray.wait fetch the objects to my node")
    assert not covered("objectrefgenerator", asked)
    assert not covered("collective", entry_terms("Ray collects usage stats once an hour"))
    assert covered("collective", entry_terms("ray.util.collective groups"))
    assert covered("object", asked) and covered("scheduling", entry_terms("the scheduler"))


def test_a_short_answer_about_several_nodes_needs_a_question_about_nodes():
    questions = ["Can one task use GPUs on two nodes?"]
    weights = {"one": 0.2, "task": 0.1, "gpu": 2.0, "two": 1.0, "node": 0.2, "request": 1.1}
    assert _short_answer_lead(questions, "can one task request 2 gpus", weights) is None
    assert _short_answer_lead(questions, "can one task use gpus on two nodes", weights) == questions[0]
    # "head and workers" speak of nodes too.
    versions = ["Can different nodes run different Ray versions?"]
    assert _short_answer_lead(versions, "can the head and workers run different ray versions") == versions[0]


def test_memory_and_cpu_are_different_resources_for_short_answers():
    questions = ["How can I see how much memory each task uses?"]
    assert _short_answer_lead(questions, "how to see how much cpu each task uses") is None
    assert _short_answer_lead(questions, "how can i see how much memory each task uses") == questions[0]


def test_a_quoted_message_is_answered_only_by_an_entry_that_uses_its_words(assistant):
    from raybot.assistant import _quoted_words

    q = 'does anyone have this grpc "Exception iterating requests!" error when connecting the ray head through a proxy?'
    assert _quoted_words(prepare_query(q)) == "Exception iterating requests!"
    # The TLS and Ray Client entry shares "grpc", "head" and "proxy" with the question, never the message.
    assert not assistant.ask(q).in_scope
    # The Ray Client entry quotes a sibling message, "Exception iterating responses: Server startup
    # failed.", so it uses all three words, but not "iterating" beside "requests".
    retriever = assistant.retriever
    assert retriever.message_share("Exception iterating requests!", "ray-client-server-startup-failed") == 1.0
    assert not retriever.message_words_together("Exception iterating requests!", "ray-client-server-startup-failed")
    assert retriever.message_words_together("Exception iterating responses", "ray-client-server-startup-failed")
    # A message typed from memory that an entry does explain keeps its answer.
    known = 'what does "the actor died because its owner has died" mean'
    ans = assistant.ask(known)
    assert ans.in_scope and ans.judgement.entry == "actor-died-error", ans.judgement
    # One quoted word is a name, not a message.
    assert _quoted_words(prepare_query('what does "num_workers_soft_limit" do')) == ""
    # A phrase quoted from the docs is not a message: the entry need not use its words.
    docs_quote = 'what does stateful mean in the statement "An actor is a stateful worker"'
    assert _quoted_words(prepare_query(docs_quote)) == ""


def test_shut_down_is_the_same_action_as_stop():
    questions = ["How do I stop a Ray cluster that I started with ray start?"]
    assert _short_answer_lead(questions, "how do I shut down a ray cluster I started with ray start") == questions[0]
    from raybot.assistant import _same_action

    assert _same_action("shutting down the cluster") == "stop the cluster"
    assert _same_action("call ray.shutdown()") == "call ray.shutdown()"  # an API call, not the phrase


def test_a_short_answer_about_only_one_thing_needs_that_thing_asked():
    questions = ["How do I shut down only one worker node of a cluster?"]
    # The kb's weights: "worker" and "node" are in most entries, "stop" in few.
    weights = {"stop": 2.0, "one": 0.3, "worker": 0.3, "node": 0.2, "cluster": 0.5, "ray": 0.1, "single": 1.0}
    assert _short_answer_lead(questions, "how do I shut down a ray cluster", weights) is None
    assert _short_answer_lead(questions, "how do I shut down a worker node of my cluster", weights) == questions[0]
    assert _short_answer_lead(questions, "shut down a single node of my cluster", weights) == questions[0]


def test_a_short_answer_about_an_id_needs_a_question_about_ids():
    questions = ["Is the job ID the same as the submission ID?"]
    # The kb's weights: "id" is in many entries, "submission" in few.
    weights = {"job": 1.0, "id": 0.3, "same": 0.5, "submission": 2.0, "submit": 2.0, "local": 1.5, "mode": 1.5}
    assert _short_answer_lead(questions, "can i use ray job submit in local mode?", weights) is None
    assert _short_answer_lead(questions, "is the job id the same as the submission id?", weights) == questions[0]
    nodes = ["How do I find the node ID of each placement group bundle?"]
    assert _short_answer_lead(nodes, "which node was each placement group bundle placed on") == nodes[0]


def test_a_short_answer_whose_question_means_the_same_leads_in_other_words(assistant):
    # No word of the short answer's question but "actor" and "call": the meaning matches.
    got = assistant.ask("call another actor from within an actor")
    assert got.kind == "short-answer"
    lead = got.answer.split("\n\n")[1]
    assert "handle" in lead and not lead.startswith("**Yes")  # the bare "Yes." is for a yes/no question
    # A short answer near in words but not in meaning still does not lead.
    other = assistant.ask("why does ray print all task exceptions at the end")
    assert other.kind != "short-answer"


def test_stripping_a_yes_keeps_the_case_of_code():
    from raybot.answer import strip_yes_no

    assert strip_yes_no("No. ray.wait takes only refs.") == "ray.wait takes only refs."
    assert strip_yes_no("No. ray start --head starts it.") == "ray start --head starts it."
    assert strip_yes_no("Yes. the handle works.") == "The handle works."
    assert strip_yes_no("No, never. It stays.") == "Never. It stays."  # a full stop is not code


def test_stripping_a_verdict_never_strips_a_no_that_opens_a_noun_phrase():
    """kb_regress, stop 49: "No standing all-to-all mesh." lost its "No" when the user's question was
    framed the other way round, and read "Standing all-to-all mesh." (the opposite)."""
    from raybot.answer import strip_yes_no

    mesh = "No standing all-to-all mesh. Every raylet ..."
    assert strip_yes_no(mesh) == mesh
    assert strip_yes_no("No fixed cap in 2.60.0: chunks of 5 MiB.") == "No fixed cap in 2.60.0: chunks of 5 MiB."
    assert strip_yes_no("**No.** It is not.") == "It is not."
    assert strip_yes_no("**Yes**, it always does.") == "It always does."
    # A qualified verdict loses only its yes or no.
    assert strip_yes_no("Yes for Ray Client: one port.") == "For Ray Client: one port."
    assert strip_yes_no("No on 2.60.0: it was removed.") == "On 2.60.0: it was removed."


def test_an_assignment_that_opens_an_inline_code_span_defines_a_name():
    from raybot.retrieve import defined_names

    assert "big_array3" in defined_names("for example: `big_array3 = ray.put(np.zeros(10))`, I get an error")
    assert "num_cpus" not in defined_names("is `num_cpus == 2` true here")


def test_a_short_answer_chosen_by_meaning_needs_its_rarest_word_asked(assistant):
    # MiniLM puts "Can I subclass a Ray actor class?" at 0.86 from this question, which never says
    # "subclass": its "No." would answer another proposition.
    got = assistant.ask("Can I create a Ray Actor from a classmethod which returns an instance of that class?")
    assert "ActorClassInheritanceException" not in got.answer.split("\n\n")[1]


def test_a_short_answer_about_one_ray_call_does_not_answer_a_question_about_another():
    questions = ["What does ray.wait do with a task that failed?"]
    # Shared words (task, fail) but another call: ray.get raises where ray.wait does not.
    assert _short_answer_lead(questions, "what does ray.get do if a task failed") is None
    assert _short_answer_lead(questions, "what does ray.wait do if a task failed") == questions[0]
    # Calls every program makes say nothing about which call is asked about.
    asked = "with @ray.remote tasks, what does ray.wait do when a task failed"
    assert _short_answer_lead(questions, asked) == questions[0]
    # A call named by the answer's first sentence is the short answer's too.
    from raybot.assistant import _other_ray_call

    sa_q, sa_a = "How do I use try/except with ray.wait?", "Put the try around ray.get, not ray.wait: it never raises."
    assert not _other_ray_call(sa_q, "try except around ray.get", sa_a)
    assert _other_ray_call(sa_q, "try except around ray.put", sa_a)
    # A call that ends the user's sentence is still named ("... ray.get."), and module paths are no calls.
    assert _other_ray_call("What does ray.wait do with a failed task?", "My code fails in ray.get.")
    assert not _other_ray_call("How do I use ray.util.queue?", "Is ray.util.ActorPool thread safe?")


def test_a_setting_named_by_its_first_words_is_covered_by_the_entry_that_spells_it_out():
    from raybot.tokens import covered, entry_terms

    terms = entry_terms("Set idle_timeout_minutes in the cluster YAML.")
    assert covered("idle_timeout", terms)
    # Only whole leading words: "timeout_minutes" is not how anyone shortens it, nor is "idle_time".
    assert not covered("timeout_minutes", terms) and not covered("idle_time", terms)


def test_a_question_mostly_in_another_script_is_asked_again_in_english(assistant):
    # "How do I get an existing actor?": only "actor" is readable, and ranking would guess the rest.
    ans = assistant.ask("如何获取已存在的actor")
    assert not ans.in_scope and ans.kind == "clarify"
    assert "I can only read questions in English" in ans.answer and "another language" in ans.answer
    # A Ray name or a pasted message is still looked up.
    named = assistant.ask("RAY_IGNORE_UNHANDLED_ERRORS=1是什么意思")
    assert named.in_scope and named.topic == "task-exceptions-raytaskerror"


@pytest.mark.parametrize(
    "question, command",
    [
        ("at what percent does ray start spilling", None),
        ("will ray stop the idle workers after a while", None),
        ("does ray start a new worker for each task", None),
        ("why does ray start fail on my laptop", "ray start"),
        ("does ray start --head need sudo", "ray start"),
        ("ray stop killing my processes takes long", "ray stop"),
    ],
)
def test_ray_doing_something_is_not_the_ray_command(question, command):
    # Stop 45: "at what percent does ray start spilling" was read as the `ray start` command and
    # answered from ray-start-command; the spilling entry never reached the ranking.
    found = [s for s in extract_signals(question) if s in ("ray start", "ray stop")]
    assert found == ([command] if command else [])


@pytest.mark.parametrize(
    "question, yes_no",
    [
        ("how do I make a task run only on nodes that have it?", False),
        ("How can I get the worker that is currently running a specific task?", False),
        ("I read that ray spills objects. Is that true for actors too?", True),
    ],
)
def test_a_relative_clause_with_that_is_no_yes_no_question(question, yes_no):
    from raybot.assistant import is_yes_no

    # Issue #36016's question ("... nodes that have it?") got "I can't answer that yes or no".
    assert is_yes_no(question) is yes_no


def test_the_functions_around_a_local_object_in_a_pickle_error_are_the_users():
    from raybot.retrieve import defined_names

    names = defined_names("fails with Can't pickle local object 'Trainer.fill_mode.<locals>.<lambda>'. why?")
    assert {"trainer", "fill_mode"} <= names
    assert "locals" not in names and "lambda" not in names


def test_a_message_in_single_quotes_is_a_paste_but_apostrophes_are_not():
    from raybot.signatures import pasted_message

    logged = (
        "my actor keeps logging 'Objects 00618f are still not local after 224s. If this message continues "
        "to print, ray.get() is likely hung.' What does it mean?"
    )
    assert pasted_message(logged).startswith("Objects 00618f are still not local")
    assert pasted_message("I don't know why it's failing, the worker can't start and it's been an hour") == ""


@pytest.mark.parametrize(
    "text, same",
    [
        ("my job stays in PENDING for an hour", "stuck in pending"),
        ("the job remained in the pending state", "stuck in pending"),
        ("how do I rotate the ray auth token", "replace the ray auth token"),
        ("how are the log files rotated", "rotated"),
    ],
)
def test_two_ways_to_say_one_action(text, same):
    from raybot.assistant import _same_action

    assert same in _same_action(text).lower()


def test_asking_whether_something_hangs_is_not_settled_by_a_yes_about_doing_it():
    from raybot.assistant import _yes_no_other_ask

    # Issue #1273's question got the "Yes." of "Can I call ray.get inside a task or remote function?".
    asked = "Can calling ray.wait or ray.get inside a remote function make my application hang?"
    assert _yes_no_other_ask("Can I call ray.get inside a task or remote function?", asked)
    assert not _yes_no_other_ask("Can calling ray.get inside a Ray task deadlock or hang?", asked)
    # ... and a short answer about hanging does not answer a plain "can I".
    assert _yes_no_other_ask("Can calling ray.get inside a Ray task deadlock?", "can I call ray.get inside a task?")


def test_a_question_in_another_language_is_told_from_english():
    from raybot.language import looks_non_english

    for other in (
        "Wie viele Worker startet ray?",
        "如何在 k8s raycluster 中管理 python 依赖",
        "как запустить dashboard через консоль",
        "RayJob은 작업이 완료되면 결과가 어디에 남아?",
        "¿Cómo puedo limitar la memoria de un actor en Ray?",
        "Comment est-ce que je peux arrêter un acteur?",
    ):
        assert looks_non_english(other), other
    for english in (
        "why do my ray::IDLE workers keep 2GB",
        "my workers die, is the object store full?",
        "how to use ray.get with a list",
        "ok",
        "non-blocking vs non-deterministic tasks",  # "non" is an English prefix too
        # Code and URLs are not prose: a German variable name or a docs path says nothing.
        "what does `ist_fertig = ray.wait(refs)` return? see https://docs.ray.io/de/la/les/des",
    ):
        assert not looks_non_english(english), english
