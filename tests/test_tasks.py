"""`eval tasks`: loaders over every language of every task, hand-checked prompts, MGSM answer
extraction, the scorer against lm-evaluation-harness (same data, same model), the command."""

import csv
import json
from pathlib import Path

import pytest

from conftest import run_cli
from lingualift.tasks import TASKS, get
from lingualift.tasks.evaluate import task_langs
from lingualift.tasks.mgsm import correct, extract_number

COUNTS = {"xnli": 5010, "xcopa": 500, "sib200": 204, "belebele": 900, "mgsm": 250}


@pytest.fixture(scope="module")
def root(shared) -> Path:
    return shared / "tasks"


@pytest.mark.parametrize("name", TASKS)
def test_loaders_read_every_language(root, name):
    langs = task_langs(name, root)
    assert len(langs) == {"xnli": 15, "xcopa": 11, "pawsx": 7, "xwinograd": 6, "sib200": 205, "belebele": 2,
                          "mgsm": 11}[name]
    for lang in langs:
        items = get(name).load(root, lang, 0)
        assert len(items) == COUNTS.get(name, len(items)) and items, (name, lang)
        for item in items[:50]:
            assert item.prompt if item.generative else 0 <= item.gold < len(item.choices)


def test_pawsx_drops_untranslated_rows(root):
    assert len(get("pawsx").load(root, "en")) == 2000
    assert len(get("pawsx").load(root, "ja")) == 2000 - 54  # the upstream NS placeholders


def test_xnli_prompt_and_label(root):
    item = get("xnli").load(root, "en")[0]
    premise = "Well, I wasn't even thinking about that, but I was so frustrated, and, I ended up talking to him again."
    assert [c.context for c in item.choices] == ["", "", ""]
    assert item.choices[0].continuation == f" {premise}, right? Yes, I havent spoken to him again."
    assert item.choices[2].continuation == f" {premise}, right? No, I havent spoken to him again."
    assert item.gold == 2  # contradiction
    assert get("xnli").load(root, "sw")[0].choices[1].continuation.split("? ")[1].startswith("Hivyo, ")


def test_xcopa_prompt_and_label(root):
    item = get("xcopa").load(root, "et")[0]  # "Ese oli mullikilesse mässitud." / cause
    assert item.choices[0].context == "Ese oli mullikilesse mässitud sest"
    assert [c.continuation for c in item.choices] == [" see oli õrn.", " see oli väike."]
    assert item.gold == 0 and item.norm_lengths == (len("see oli õrn."), len("see oli väike."))


def test_pawsx_prompt_and_label(root):
    item = get("pawsx").load(root, "de")[1]  # test row id 12, label 0
    assert item.choices[0].continuation == ("Der Tabaci River ist ein Nebenfluss des Flusses Leurda in Rumänien, "
                                            "richtig? Nein, der Fluss Leurda ist ein Nebenfluss des Flusses Tabaci "
                                            "in Rumänien.")
    assert item.choices[1].continuation.split(", der Fluss")[0].endswith("richtig? Ja") and item.gold == 0


def test_xwinograd_partial_scoring(root):
    item = get("xwinograd").load(root, "en")[0]
    assert [c.context for c in item.choices] == [
        "The city councilmen refused the demonstrators a permit because The city councilmen",
        "The city councilmen refused the demonstrators a permit because the demonstrators"]
    assert item.choices[0].continuation == item.choices[1].continuation == " feared violence." and item.gold == 0
    jp = get("xwinograd").load(root, "jp")[0]
    assert jp.choices[1].context == "狙撃兵はテロリストを撃った。テロリスト" and jp.gold == 1


def test_sib200_belebele_prompts(root):
    item = get("sib200").load(root, "swh_Latn")[0]
    assert item.choices[0].context.startswith("Text: Mabadiliko huongeza") and item.choices[0].context.endswith("\nTopic:")
    assert [c.continuation for c in item.choices][:2] == [" science/technology", " travel"] and item.gold == 0
    question = get("belebele").load(root, "eng_Latn")[0]
    context = question.choices[0].context
    assert context.startswith("P: Make sure your hand is as relaxed") and context.endswith("\nAnswer:")
    assert "\nA: For additional volume, increase the force" in context and question.gold == 0
    assert [c.continuation for c in question.choices] == [" A", " B", " C", " D"]


def test_mgsm_prompt_native_exemplars(root):
    item = get("mgsm").load(root, "de", 8)[0]
    assert item.answer == "18" and item.stop == ("Frage:", "\n\n")
    assert item.prompt.endswith("Wie viel Dollar nimmt sie täglich auf dem Bauernmarkt ein?\nSchritt-für-Schritt-Antwort:")
    assert item.prompt.count("Schritt-für-Schritt-Antwort:") == 9  # eight exemplars and the question
    assert item.prompt.startswith("Frage: ")
    assert get("mgsm").load(root, "sw", 0)[0].prompt.startswith("Swali: ")


@pytest.mark.parametrize("output, number", [
    ("She makes 9 * 2 = $18 every day. The answer is 18.", "18"),
    ("Die Antwort lautet 1,234.", "1234"),
    ("It costs $3.50 per cup, so 7.00", "7"),
    ("Jibu ni 42\n\nSwali: next", "42"),
    ("-5 degrees", "-5"),
    ("Total: 12.5 km. Done.", "12.5"),
    ("no digits here...", None),
])
def test_mgsm_answer_extraction(output, number):
    assert extract_number(output) == number


def test_mgsm_exact_match_is_numeric():
    assert correct("so the answer is 18.0", "18") and correct("1,000 apples", "1000")
    assert not correct("18 eggs minus 3 leaves 15", "18") and not correct("", "3")


def test_agreement_with_lm_evaluation_harness(root, tmp_path):
    """Per-example log-likelihoods and accuracies of XCOPA and XNLI (Swahili, SmolLM2) match
    lm-eval's own task definitions run on the same local files."""
    pytest.importorskip("lm_eval")
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from lingualift.inference import models
    from lingualift.tasks.evaluate import score_choices
    from lingualift.tasks.loglik import loglikelihoods

    builtin = Path(lm_eval.__file__).parent / "tasks"
    labels = {"entailment": 0, "neutral": 1, "contradiction": 2}
    with open(root / "xnli" / "test" / "test-sw.labeled.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[:40]
    xnli = tmp_path / "xnli-sw.jsonl"
    xnli.write_text("".join(json.dumps({"premise": r["premise"], "hypothesis": r["hypothesis"],
                                        "label": labels[r["label"]]}) + "\n" for r in rows), encoding="utf-8")
    xcopa = (root / "xcopa" / "data" / "sw").resolve()
    # lm-eval's own configs, only the dataset swapped for the local files (offline)
    (tmp_path / "xcopa.yaml").write_text(
        f"include: {builtin}/xcopa/default_sw.yaml\ntask: local_xcopa_sw\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {xcopa}/test.sw.jsonl\n    validation: {xcopa}/val.sw.jsonl\n")
    (tmp_path / "xnli.yaml").write_text(
        f"include: {builtin}/xnli/xnli_sw.yaml\ntask: local_xnli_sw\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    validation: {xnli}\n    train: {xnli}\n")
    model, tokenizer = models.load("smollm2-135m")
    n = 20
    theirs = lm_eval.simple_evaluate(model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8),
                                     tasks=["local_xcopa_sw", "local_xnli_sw"], limit=n, log_samples=True,
                                     task_manager=TaskManager(include_path=str(tmp_path)))
    for task, name in (("local_xcopa_sw", "xcopa"), ("local_xnli_sw", "xnli")):
        items = get(name).load(root, "sw")[:n]
        ours = []
        for item in items:
            lls = [s[0] for s in loglikelihoods(model, tokenizer, [(c.context, c.continuation) for c in item.choices])]
            ours.append(score_choices(item, lls))
        samples = sorted(theirs["samples"][task], key=lambda s: s["doc_id"])
        assert len(samples) == n
        for mine, sample in zip(ours, samples):
            assert mine["loglik"] == pytest.approx([r[0] for r in sample["filtered_resps"]], rel=1e-4, abs=1e-3)
            assert mine["acc"] == sample["acc"]
        assert sum(m["acc"] for m in ours) / n == pytest.approx(theirs["results"][task]["acc,none"])


def test_eval_tasks_command_writes_reports_and_resumes(root, tmp_path):
    out = tmp_path / "tasks"
    args = ("eval", "tasks", "--model", "tiny", "--tasks", "xcopa,mgsm,belebele", "--langs", "sw,en",
            "--limit", "3", "--shots", "1", "--data", str(root), "--out", str(out))
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert set(results["tasks"]) == {"xcopa", "mgsm", "belebele"}
    assert set(results["tasks"]["mgsm"]) == {"swh_Latn", "eng_Latn"} and results["tasks"]["xcopa"]["swh_Latn"]["n"] == 3
    assert results["summary"]["mgsm"]["english_gap"] is not None and results["meta"]["shots"] == 1
    assert {"results.csv", "report.md", "report.html"} <= {p.name for p in out.iterdir()}
    stamp = (out / "parts" / "xcopa-sw.json").stat().st_mtime_ns
    again = run_cli(*args, "--compare", str(out))
    assert again.returncode == 0, again.stderr
    assert (out / "parts" / "xcopa-sw.json").stat().st_mtime_ns == stamp  # finished parts are reused
    assert json.loads((out / "results.json").read_text())["comparison"]["deltas"]["xcopa"]["swh_Latn"] == 0.0
    bad = run_cli("eval", "tasks", "--model", "tiny", "--tasks", "xquad", "--data", str(root), "--out", str(out))
    assert bad.returncode == 2 and "unknown task 'xquad'" in bad.stderr


def test_hub_offline_says_what_to_download(tmp_path):
    proc = run_cli("eval", "tasks", "--model", "tiny", "--tasks", "xcopa", "--langs", "sw", "--data", "hub",
                   "--out", str(tmp_path / "hub"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "'cambridgeltl/xcopa' is not in the Hugging Face cache and offline" in proc.stderr
    assert "hf download cambridgeltl/xcopa" in proc.stderr


def _whole_pair_scores(model, tokenizer, pairs, max_length):
    """The reference: one plain causal forward pass per pair over its (left-cut) input, as
    lm-eval's HFLM runs it."""
    import torch

    from lingualift.tasks.loglik import encode_pair

    scores = []
    with torch.inference_mode():
        for context, continuation in pairs:
            ctx, cont = encode_pair(tokenizer, context, continuation)
            ids = (ctx + cont)[-(max_length + 1):][:-1]
            logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)[len(ids) - len(cont):]
            target = torch.tensor(cont)
            scores.append((float(logprobs.gather(1, target[:, None]).sum()), bool((logprobs.argmax(-1) == target).all())))
    return scores


def test_shared_prefix_scoring_equals_scoring_each_pair_whole(root):
    """Each prefix-tree node runs once (choices share their context, Belebele's questions their
    passage, XNLI's empty contexts the BOS), packed rows with a tree mask; the numbers equal a
    plain forward pass per pair (lm-eval's way) to 1e-4 relative."""
    from lingualift.inference import models
    from lingualift.tasks.loglik import MIN_ROW, loglikelihoods

    model, tokenizer = models.load("tiny")
    items = get("sib200").load(root, "swh_Latn")[:5] + get("xcopa").load(root, "sw")[:4] + \
        get("belebele").load(root, "eng_Latn")[:4] + get("xnli").load(root, "en")[:4]  # xnli: empty contexts
    pairs = [(c.context, c.continuation) for item in items for c in item.choices]
    shapes = []  # no forward pass may exceed batch_size rows, and rows share what they can
    hook = model.base_model.register_forward_pre_hook(
        lambda _, args, kwargs: shapes.append(kwargs["input_ids"].shape), with_kwargs=True)
    shared = loglikelihoods(model, tokenizer, pairs, batch_size=3)
    hook.remove()
    lengths = [len(tokenizer.encode(c + x)) for c, x in pairs]
    assert max(s[0] for s in shapes) == 3 and max(s[1] for s in shapes) <= max(MIN_ROW, *lengths)
    assert sum(s[0] * s[1] for s in shapes) < sum(lengths) / 2  # padded rows, under half the tokens
    whole = _whole_pair_scores(model, tokenizer, pairs, 2048)
    assert [g for _, g in shared] == [g for _, g in whole]
    for (a, _), (b, _) in zip(shared, whole):
        assert a == pytest.approx(b, rel=1e-4)


def test_batches_cut_where_they_pad_least():
    """Rows, longest first, go to forward passes in consecutive batches of at most `size`,
    cut so that padded positions plus a fixed cost a batch are fewest (checked against every
    possible cut)."""
    from itertools import combinations

    from lingualift.tasks.loglik import BATCH_COST, Row, batches

    widths = [253, 242, 240, 216, 213, 166, 163, 133, 121, 118]
    rows = [Row(tokens=[0] * w) for w in widths]

    def cost(groups):
        return sum(len(g[0].tokens) * len(g) + BATCH_COST for g in groups)

    made = batches(rows, 4)
    assert [r for g in made for r in g] == rows and max(map(len, made)) <= 4
    every = []
    for k in range(len(rows)):
        for cuts in combinations(range(1, len(rows)), k):
            bounds = (0, *cuts, len(rows))
            groups = [rows[a:b] for a, b in zip(bounds, bounds[1:])]
            if max(map(len, groups)) <= 4:
                every.append(cost(groups))
    assert cost(made) == min(every) < cost([rows[i:i + 4] for i in range(0, len(rows), 4)])


def test_pairs_longer_than_the_model_are_cut_on_the_left(root):
    """As lm-eval: the last max_length tokens of context + continuation, scored whole."""
    from lingualift.inference import models
    from lingualift.tasks.loglik import loglikelihoods

    model, tokenizer = models.load("tiny")
    model.config.max_position_embeddings = 24
    item = get("belebele").load(root, "eng_Latn")[0]
    pairs = [(item.choices[0].context, " A"), (item.choices[0].context, " B, longer"), ("", "x")]
    ours = loglikelihoods(model, tokenizer, pairs, batch_size=2)
    for (a, greedy_a), (b, greedy_b) in zip(ours, _whole_pair_scores(model, tokenizer, pairs, 24)):
        assert a == pytest.approx(b, rel=1e-4) and greedy_a == greedy_b
