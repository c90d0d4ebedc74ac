"""``labelstream review`` for the lead, against the real Redis: what revoking a token does to held records."""

from __future__ import annotations

import datetime
import time

import orjson
import pytest
from typer.testing import CliRunner

from labelstream.cli.main import app
from labelstream.core.schemas import ReviewRequest
from labelstream.review.auth import TokenStore
from labelstream.review.items import QueueItem
from labelstream.review.queue import ReviewQueue
from labelstream.store.connection import connect

pytestmark = pytest.mark.integration


def _item(record_id: str) -> QueueItem:
    request = ReviewRequest.model_validate({
        "id": record_id, "record": {"id": record_id, "features": {"x": 1.0}}, "proposed_label": "cat",
        "probabilities": {"cat": 0.6, "dog": 0.4}, "reason": "uncertain", "priority": 0.5, "timestamp": time.time(),
    })
    return QueueItem.from_request(request.model_dump_json().encode())


def test_revoking_a_reviewers_last_token_gives_back_what_they_hold(settings_factory):
    settings = settings_factory()
    client = connect(settings.redis)
    queue = ReviewQueue.from_settings(client, settings)
    tokens = TokenStore(client, settings.redis.key_prefix)
    queue.enqueue([_item("r-1"), _item("r-2")])
    tokens.add("ana")
    tokens.add("ana")  # a second device
    tokens.add("bo")
    held_by_ana = queue.claim("ana").item.id
    held_by_bo = queue.claim("bo").item.id
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix}

    def revoke(name_or_id: str) -> str:
        result = CliRunner().invoke(app, ["review", "token", "revoke", name_or_id], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    one_of_bos = next(info.token_id for info in tokens.list() if info.reviewer == "bo")
    ana_device = next(info.token_id for info in tokens.list() if info.reviewer == "ana")
    assert revoke(ana_device) == f"revoked 1 token(s) of {ana_device}"  # ana still has a token: she keeps her record
    assert queue.held_ids("ana") == [held_by_ana]
    assert revoke("ana") == "revoked 1 token(s) of ana; requeued 1 record(s) they held"
    assert queue.held_ids("ana") == [] and queue.held_ids("bo") == [held_by_bo]
    assert queue.claim("cy").item.id == held_by_ana  # back in the queue now, not when the lease ends
    assert revoke(one_of_bos) == f"revoked 1 token(s) of {one_of_bos}; requeued 1 record(s) they held"


def test_gold_add_reads_a_data_file_all_or_nothing_and_stats_reports_each_reviewer(settings_factory, tmp_path):
    from labelstream.review.gold import GoldSet
    from labelstream.review.labelset import LabelSet

    settings = settings_factory()
    client = connect(settings.redis)
    labels = LabelSet(client, settings.redis.key_prefix)
    for name in ("cat", "dog"):
        labels.add(name)
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "LABELSTREAM_REVIEW__GOLD_SHARE": "0.1"}

    def run(*args: str):  # noqa: ANN202
        return CliRunner().invoke(app, ["review", "gold", *args], env=env)

    bad = tmp_path / "bad.csv"
    bad.write_text("key,x,colour,truth\ng1,0.5,red,cat\ng2,1.5,blue,cow\ng3,2,red,\n")
    refused = run("add", str(bad), "--label-column", "truth", "--id-column", "key")
    assert refused.exit_code != 0
    assert "nothing added; line 3: label 'cow' is not in the label set" in str(refused.exception)
    assert str(refused.exception).endswith("(and 1 more)")
    gold = GoldSet(client, settings.redis.key_prefix)
    assert gold.count() == 0

    good = tmp_path / "gold.jsonl"
    good.write_text('{"key": "g1", "x": 0.5, "text": "purr", "truth": "cat"}\n{"key": "g2", "x": 1.5, "truth": "dog"}\n')
    added = run("add", str(good), "--label-column", "truth", "--id-column", "key", "--text-column", "text")
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "added 2 gold item(s), replaced 0; 2 in the set"
    offer = gold.offer("ana", 1.0)
    expected = {"g1": ("cat", {"features": {"x": 0.5}, "text": "purr"}), "g2": ("dog", {"features": {"x": 1.5}})}
    assert (offer.truth, orjson.loads(offer.content)) == expected[offer.gold_id]

    empty = run("stats")
    assert empty.exit_code == 0 and empty.stdout.splitlines() == [
        "gold items: 2, served at review.gold_share 0.1", "no final gold answer yet"]
    client.hset(gold.answers_key, mapping={"ana": 10, "bo": 4})  # as gold_final.lua counts final answers
    client.hset(gold.right_key, mapping={"ana": 9})
    today = f"{settings.redis.key_prefix}:review:gold:day:{datetime.date.today().isoformat()}"
    client.hset(f"{today}:answers", mapping={"ana": 2})  # ana's last two were made final today, one right
    client.hset(f"{today}:right", mapping={"ana": 1})
    table = run("stats")
    assert table.exit_code == 0, table.output
    assert "ana" in table.stdout and "90%" in table.stdout and "60%-98%" in table.stdout and "0%-49%" in table.stdout
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines() if line.split()[:1] in (["ana"], ["bo"])}
    assert rows["ana"][5:] == ["50%", "of", "2", "10%-90%"] and rows["bo"][5:] == ["-", "-"]
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    as_json = orjson.loads(run("stats", "--json").stdout)
    assert as_json["reviewers"]["bo"] == {"answers": 4, "right": 0, "accuracy": 0.0, "low": 0.0, "high": 0.49,
                                          "recent": None, "held": False, "cleared_until": None, "gold_left": 2}
    assert as_json["reviewers"]["ana"]["recent"] == {"answers": 2, "right": 1, "accuracy": 0.5, "low": 0.095,
                                                     "high": 0.905}
    assert run("stats", "--days", "91").exit_code != 0
    status = CliRunner().invoke(app, ["review", "status"], env=env)
    assert "gold items: 2, 14 final answer(s) to them (labelstream review gold stats)" in status.stdout
    assert orjson.loads(CliRunner().invoke(app, ["review", "status", "--json"], env=env).stdout)["gold"] == as_json
    assert run("remove", "g1").stdout.strip() == "removed gold item g1; 1 in the set"
    missing = run("remove", "g1")
    assert missing.exit_code != 0 and "no gold item 'g1'" in str(missing.exception)


def final_gold_answers(gold, answers: list[tuple[str, str, str, bool]]) -> None:  # noqa: ANN001
    """(reviewer, gold id, answer, right) scored and made final by the real gold_final.lua, as answer.lua leaves them."""
    for n, (reviewer, gold_id, label, right) in enumerate(answers):
        instance = f"i{n}"
        entry = {"kind": "gold", "id": gold_id, "label": label, "reviewer": reviewer, "answer_id": f"{instance}#1",
                 "timestamp": 1.0, "correct": right}
        gold.client.hset(f"{gold.prefix}:review:gold:entries", instance, orjson.dumps(entry))
        gold.client.zadd(gold.pending_key, {instance: 0})
    gold.finalize()


def test_gold_stats_lists_the_gold_items_worst_first_and_flags_a_suspect_label(settings_factory):
    from labelstream.review.gold import GoldItem, GoldSet

    settings = settings_factory()
    gold = GoldSet(connect(settings.redis), settings.redis.key_prefix)
    gold.add([GoldItem(id=i, record={"features": {"x": 1.0}}, label=label)
              for i, label in (("g1", "cat"), ("g2", "dog"), ("g3", "cat"))])
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix}
    # g2: 6 answers, 2 right, 3 "cat" and 1 "bird": its label is suspect; g1: 2 of 3 right; g3: 1 of 4 (too few)
    answers = [("ana", "g2", "dog", True), ("bo", "g2", "dog", True), *[(f"r{i}", "g2", "cat", False) for i in range(3)],
               ("r9", "g2", "bird", False), ("ana", "g1", "cat", True), ("bo", "g1", "cat", True), ("cy", "g1", "dog", False),
               *[(f"r{i}", "g3", "dog", False) for i in range(3)], ("ana", "g3", "cat", True)]
    final_gold_answers(gold, answers)

    as_json = orjson.loads(CliRunner().invoke(app, ["review", "gold", "stats", "--json"], env=env).stdout)
    assert (as_json["items_answered"], as_json["to_check"], as_json["suspect_min_answers"], as_json["suspect_below"]) == (
        3, 1, 5, 0.5)
    assert as_json["items"] == [  # the suspect first, then by share right
        {"id": "g2", "label": "dog", "answers": 6, "right": 2, "share_right": 0.3333, "top_wrong": "cat",
         "top_wrong_answers": 3, "check_label": True},
        {"id": "g3", "label": "cat", "answers": 4, "right": 1, "share_right": 0.25, "top_wrong": "dog",
         "top_wrong_answers": 3, "check_label": False},
        {"id": "g1", "label": "cat", "answers": 3, "right": 2, "share_right": 0.6667, "top_wrong": "dog",
         "top_wrong_answers": 1, "check_label": False}]
    assert as_json["reviewers"]["ana"]["answers"] == 3  # the reviewers' figures as before
    table = CliRunner().invoke(app, ["review", "gold", "stats"], env=env)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    start = lines.index("gold items, worst first")
    assert lines[start + 1].split() == ["gold", "item", "known", "label", "answers", "right", "share", "right", "most",
                                        "common", "wrong", "note"]
    assert lines[start + 2].split() == ["g2", "dog", "6", "2", "33%", "cat", "(3)", "check", "its", "label"]
    assert [line.split()[0] for line in lines[start + 3:start + 5]] == ["g3", "g1"]
    assert lines[-1].startswith("1 gold item(s) to check: at least 5 answers, under 50% right; fix a wrong known label")
    status = CliRunner().invoke(app, ["review", "status"], env=env)
    assert "gold items: 3, 13 final answer(s) to them (labelstream review gold stats); 1 to check its label" in status.stdout

    # uploaded again with the same label: its figures stay; with another label, or removed: they start again
    gold.add([GoldItem(id="g1", record={"features": {"x": 2.0}}, label="cat"),
              GoldItem(id="g2", record={"features": {"x": 1.0}}, label="cat")])
    assert gold.delete("g3")
    assert {i: (f.answers, f.right, f.wrong) for i, f in gold.items().items()} == {"g1": (3, 2, {"dog": 1})}
    final_gold_answers(gold, [("ana", "g2", "cat", True)])
    assert gold.items()["g2"].answers == 1 and gold.items()["g2"].wrong == {}


def test_gold_add_names_the_line_and_the_fix_of_a_bad_row_in_one_line_and_adds_nothing(settings_factory, tmp_path):
    from labelstream.review.gold import GoldSet

    settings = settings_factory()
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix}
    bad = {  # file -> the error's end
        "short.csv": ("x,colour,label\n0.5,red,cat\n1.5,blue\n", "line 3: expected 3 columns, found 2; fix or remove that line"),
        "nan.csv": ("x,label\n0.5,cat\nnan,cat\n", "line 3: features.x: is not finite (nan); fix that value (a finite "
                    "number or a string)"),
        "empty.csv": ("x,label\n0.5,\n", "line 2: no value in the label column 'label'; give it its known label or "
                      "remove that line"),
        "list.jsonl": ('{"x": 1, "label": "cat"}\n{"x": [1, 2], "label": "cat"}\n',
                       "line 2: features.x: must be a number or a string, got list; fix that value (a finite number or a string)"),
    }
    for name, (text, error) in bad.items():
        (tmp_path / name).write_text(text)
        refused = CliRunner().invoke(app, ["review", "gold", "add", str(tmp_path / name)], env=env)
        assert refused.exit_code != 0 and str(refused.exception) == f"{tmp_path / name}: nothing added; {error}"
    assert GoldSet(connect(settings.redis), settings.redis.key_prefix).count() == 0


def test_gold_stats_names_the_held_reviewers_and_gold_clear_lets_one_take_items_again(settings_factory):
    from labelstream.review.gold import GoldSet

    settings = settings_factory()
    gold = GoldSet(connect(settings.redis), settings.redis.key_prefix)
    final_gold_answers(gold, [("bo", f"g{n}", "cat", n < 2) for n in range(12)] +  # 2 of 12 right: held at 80 %
                       [("ana", f"g{n}", "cat", True) for n in range(12)])
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "LABELSTREAM_REVIEW__GOLD_HOLD_BELOW": "0.8"}
    table = CliRunner().invoke(app, ["review", "gold", "stats"], env=env)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    at = lines.index("held (gold accuracy under 80%, 95 % sure, 10+ answers in 7 d): bo")
    assert lines[at + 1] == "clear a hold with: labelstream review gold clear NAME"
    assert all(len(line) <= 80 for line in lines)
    status = CliRunner().invoke(app, ["review", "status"], env=env)
    assert "held from new items for low gold accuracy: 1 reviewer(s) (labelstream review gold stats)" in status.stdout
    cleared = CliRunner().invoke(app, ["review", "gold", "clear", "bo"], env=env)
    assert cleared.exit_code == 0 and cleared.stdout.startswith("cleared bo until ")
    after = CliRunner().invoke(app, ["review", "gold", "stats", "--json"], env=env)
    bo = orjson.loads(after.stdout)["reviewers"]["bo"]
    assert bo["held"] is False and bo["cleared_until"] > time.time() + 6 * 86400
    again = CliRunner().invoke(app, ["review", "gold", "clear", "ana"], env=env)
    assert again.stdout.strip().endswith("(was not held)")


def test_gold_stats_and_status_name_the_reviewers_served_every_gold_item(settings_factory):
    from labelstream.review.gold import GoldItem, GoldSet

    settings = settings_factory()
    gold = GoldSet(connect(settings.redis), settings.redis.key_prefix)
    gold.add([GoldItem(id=f"g{n}", record={"features": {"x": n}}, label="cat") for n in range(3)])
    for _ in range(3):  # ana is offered (and so served) every gold item, as claim.lua marks them
        offer = gold.offer("ana", 1.0)
        gold.client.sadd(gold.served_prefix + "ana", offer.gold_id)
    gold.client.sadd(gold.served_prefix + "bo", "g0")
    assert gold.offer("ana", 1.0) is None
    final_gold_answers(gold, [("ana", "g0", "cat", True), ("bo", "g0", "cat", True)])
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "LABELSTREAM_REVIEW__GOLD_SHARE": "0.1"}
    table = CliRunner().invoke(app, ["review", "gold", "stats"], env=env)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "gold left (never served to them): ana 0, bo 2" in lines
    at = lines.index("none left for ana: no gold answer more from them while they answer records")
    assert lines[at + 1] == "upload more gold items: labelstream review gold add FILE"
    assert all(len(line) <= 80 for line in lines)
    as_json = orjson.loads(CliRunner().invoke(app, ["review", "gold", "stats", "--json"], env=env).stdout)
    assert (as_json["none_left"], as_json["reviewers"]["ana"]["gold_left"]) == (1, 0)
    status = CliRunner().invoke(app, ["review", "status"], env=env)
    assert "gold items: none left for 1 reviewer(s): upload more (labelstream review gold stats)" in status.stdout
    gold.add([GoldItem(id="g3", record={"features": {"x": 3}}, label="dog")])
    after = orjson.loads(CliRunner().invoke(app, ["review", "gold", "stats", "--json"], env=env).stdout)
    assert (after["none_left"], after["reviewers"]["ana"]["gold_left"], after["reviewers"]["bo"]["gold_left"]) == (0, 1, 3)
