"""The recipe's and the findings' multi-seed evidence (helpers/recipe.py): every line that cites an evidence
set cites one that is committed and holds the seeds and regimes the line states; the README shows exactly
what the evidence renders to; and the lines still without a set are listed here, exactly, so that adding a
set (one entry in helpers.recipe.SETS) shrinks the lists."""

import dataclasses

import pandas as pd
import pytest

from helpers import evidence, frontdoor, param_sweep, recipe, stats
from helpers.recipe import Backs, EvidenceSet
from helpers.results import repo_root, write_json_atomic

# The recipe steps, findings and front-door causes that no multi-seed evidence set backs yet. A set that lands
# (loop_mistakes, model_selection, label_problems, many_labels, finetune, real_benchmarks, pos_weight_dose)
# takes its lines out of these lists.
RECIPE_WITHOUT_SET = []
FINDINGS_WITHOUT_SET = []
# Lines whose evidence from a set has no real data set among its regimes (issue 15 asks for one wherever the
# advice is not image-specific); (set, target). The cardinality experiment needs generated scenes (exact digits
# per scene); pos_weight_dose, imbalance, thresholds, loop_mistakes, model_selection and label_problems were
# made on scenes only.
WITHOUT_REAL_DATA = [
    ('wrong_loss_full', 'recipe:loss'),
    ('wrong_loss_full', 'finding:cross_entropy'),
    ('wrong_loss_full', 'finding:double_sigmoid'),
    ('wrong_loss_full', 'finding:mse'),
    ('wrong_loss_full', 'finding:bce_default'),
    ('wrong_loss_full', 'cause:a sigmoid in the model and `BCEWithLogitsLoss` (double sigmoid), read from `model(x)`'),
    ('wrong_loss_full', 'cause:a sigmoid in the model and `BCEWithLogitsLoss` (double sigmoid), read through a second sigmoid as the loss does'),
    ('wrong_loss_full', 'cause:softmax cross-entropy on multi-hot targets (right only when each example has one label)'),
    ('wrong_loss_full', 'recipe:labels_first'),
    ('pos_weight_budget', 'recipe:rare_labels'),
    ('pos_weight_budget', 'finding:pos_weight'),
    ('imbalance', 'recipe:rare_labels'),
    ('imbalance', 'finding:pos_weight'),
    ('pos_weight_dose', 'recipe:rare_labels'),
    ('pos_weight_dose', 'finding:pos_weight'),
    ('thresholds', 'recipe:rare_labels'),
    ('thresholds', 'cause:rare labels with few positives, judged at one threshold of 0.5'),
    ('thresholds', 'recipe:labels_first'),
    ('start_here', 'cause:a softmax in the model with `BCELoss`'),
    ('front_door_causes', 'cause:a ReLU or Softplus before `BCEWithLogitsLoss`'),
    ('front_door_causes', 'cause:`pos_weight` far too large (100 times negatives / positives)'),
    ('front_door_causes', 'cause:`pos_weight` inverted (positives / negatives)'),
    ('front_door_causes', 'cause:a learning rate of 0'),
    ('front_door_causes', "cause:a learning rate far too large (Adam at 1,000 times the book's 3e-3)"),
    ('front_door_causes', 'cause:a NaN in the inputs or the targets (one value is enough)'),
    ('front_door_causes', 'finding:front_door_causes'),
    ('front_door_causes', 'cause:every parameter frozen (`requires_grad=False` on all of them)'),
    ('loop_mistakes', 'recipe:training_loop'),
    ('loop_mistakes', 'recipe:inputs_bias_lr'),
    ('loop_mistakes', 'finding:beyond_loss'),
    ('loop_mistakes', 'cause:a forgotten `optimizer.zero_grad()`'),
    ('loop_mistakes', 'cause:the optimizer holds the parameters of a model since rebuilt'),
    ('loop_mistakes', 'cause:`model.eval()` left on while training (batch norm frozen at its initial statistics)'),
    ('loop_mistakes', 'cause:only the head is optimised'),
    ('loop_mistakes', 'cause:weight decay far too large for Adam (an AdamW-sized 0.1)'),
    ('loop_mistakes', 'cause:learning rate too large'),
    ('loop_mistakes', "cause:a learning rate too small for the training budget (the book's lr / 10 over 10 epochs)"),
    ('loop_mistakes', 'cause:a learning rate too small for the training budget'),
    ('loop_mistakes', 'cause:the first epochs with the default bias on sparse labels (the prior bias shortens them; it does not skip them)'),
    ('loop_mistakes', 'cause:unnormalised inputs (0-255 pixels, raw features) and no normalisation layer'),
    ('loop_mistakes', 'cause:too few epochs'),
    ('model_selection', 'recipe:judge_metric'),
    ('many_labels', 'finding:many_labels'),
    ('many_labels', 'recipe:inputs_bias_lr'),
    ('many_labels', 'recipe:rare_labels'),
    ('many_labels', 'cause:the first epochs with the default bias on sparse labels (the prior bias shortens them; it does not skip them)'),
    ('finetune', 'finding:pretrained'),
    ('finetune_vs_scratch', 'finding:pretrained'),
    ('splits', 'recipe:stratify'),
    ('label_problems', 'recipe:partial_labels'),
    ('label_problems', 'recipe:noisy_labels'),
    ('label_problems', 'finding:labels'),
    ('label_problems', 'recipe:label_columns'),
    ('label_problems', 'recipe:shuffled_labels'),
    ('label_problems', 'recipe:labels_first'),
    ('label_problems', 'cause:label columns in another order at test time (e.g. a `MultiLabelBinarizer` fitted on each split)'),
    ('label_problems', 'cause:labels shuffled against the inputs (rows of X and Y in different orders)'),
]
# the lines (recipe steps, findings, front-door causes) that no set backs on a real data set, whatever its set
LINES_WITHOUT_REAL_DATA = [
    'cause:too few epochs',  # 07's claim is declared for the scenes (not applicable on loop_mistakes_yeast's runs)
    'finding:pretrained',  # image-specific: a CNN backbone pretrained on one-digit scenes (notebook 10)
]

def test_every_cited_set_exists_and_holds_the_seeds_and_regimes_stated():
    problems = recipe.problems()
    assert not problems, "lines whose evidence does not hold:\n" + "\n".join(problems)


# sets whose lines state fewer than 5 seeds, and why: a failed run is kept as failed, not replaced
FEWER_SEEDS = {"wrong_loss_full": "02's cardinality rows at tail 3.3: at seed 4 the one-digit scenes lack a digit, so "
                                  "02 skips that level (its claims not applicable), leaving 4 seeds in that row"}


def test_every_set_is_backed_by_five_seeds_or_more():
    for es in recipe.SETS:
        for b in (*es.backs, *es.held):
            assert b.seeds >= 5 or (es.name in FEWER_SEEDS and b.seeds == 4), \
                f"{es.name} -> {b.target}: at least 5 seeds (issue 15)"
            assert b.regimes, f"{es.name} -> {b.target}: state the regimes the line rests on"


def test_readme_shows_the_rendering():
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    assert recipe.render_blocks(text) == text, "README out of sync with the evidence: run `python -m helpers.frontdoor`"
    assert recipe.FINDINGS_BEGIN in text.split("## What the book shows", 1)[1].split("\n## ", 1)[0]


def test_steps_without_a_set_are_listed_exactly():
    assert recipe.without_evidence("recipe") == RECIPE_WITHOUT_SET
    assert recipe.without_evidence("finding") == FINDINGS_WITHOUT_SET
    rendered = recipe.markdown_recipe()
    for i, s in enumerate(recipe.RECIPE, 1):
        line = next(x for x in rendered.splitlines() if x.startswith(f"{i}. "))
        assert (f"*Over seeds:* {recipe.NO_SET}." in line) == (s.key in RECIPE_WITHOUT_SET), line[:120]


def test_lines_without_a_real_data_set_are_listed_exactly():
    real = set(recipe.REAL_SETS) | {p.stem for p in param_sweep.data_files()}  # MULAN's sets, by file stem

    def scenes_only(es, target):
        return all(r not in real for b in (*es.backs, *es.held) if b.target == target for r in b.regimes)

    lacking = list(dict.fromkeys((es.name, b.target) for es in recipe.SETS for b in (*es.backs, *es.held)
                                 if scenes_only(es, b.target)))
    assert lacking == WITHOUT_REAL_DATA
    targets = list(dict.fromkeys(b.target for es in recipe.SETS for b in (*es.backs, *es.held)))
    assert [t for t in targets if not any(scenes_only(es, t) is False for es in recipe.SETS
                                          if any(b.target == t for b in (*es.backs, *es.held)))] == LINES_WITHOUT_REAL_DATA


def test_front_door_causes_cite_their_sets():
    table = frontdoor.markdown_table()
    cited = [t[len("cause:"):] for es in recipe.SETS for b in (*es.backs, *es.held) for t in [b.target]
             if t.startswith("cause:")]
    assert cited
    for text in cited:
        row = next(line for line in table.splitlines() if f"| {text} |" in line)
        assert "over seeds: `evidence/" in row and " seeds; " in row, row[:200]
    assert len(recipe.without_evidence("cause")) == sum(len(s.causes) for s in frontdoor.SYMPTOMS) - len(set(cited))


def test_numbers_are_helpers_stats_on_the_committed_tables():
    """The imbalance set's family is notebook 05's table: the same 30 comparisons, so the same intervals."""
    ev = evidence.load(repo_root() / "evidence" / "imbalance")
    j05 = stats.judge_table(ev.table, "tail", [("macro_f1", "0.5"), ("macro_f1", "tuned"), ("map", "0.5")],
                            "bce_with_logits")
    mine = recipe.judged("imbalance")
    assert len(mine) == len(j05)
    row05 = j05.loc[("macro_f1 tuned", 3.3, "bce_with_logits+neg_over_pos")]
    row = mine[(mine["view"] == "tuned macro-F1") & (mine["regime"] == "tail 3.3")
               & (mine["setup"] == "bce_with_logits+neg_over_pos")].iloc[0]
    assert row["low"] == pytest.approx(row05["low"]) and row["verdict"] == row05["verdict"]
    assert recipe.effect(row) in recipe.over_seeds("recipe:rare_labels")


# --- the checks can fail --------------------------------------------------------------------------------


@pytest.fixture
def patched_sets(monkeypatch):
    def use(*sets):
        monkeypatch.setattr(recipe, "SETS", tuple(sets))
        # the steps' stated directions cite the real sets; these tests look at the sets' own checks
        monkeypatch.setattr(recipe, "RECIPE", tuple(dataclasses.replace(s, says=()) for s in recipe.RECIPE))
        recipe.clear_cache()
    yield use
    recipe.clear_cache()


def _imbalance(**changes):
    es = recipe.get_set("imbalance")
    b = dataclasses.replace(es.backs[0], **changes)
    return dataclasses.replace(es, backs=(b,))


def test_a_missing_set_is_a_problem(patched_sets):
    patched_sets(dataclasses.replace(_imbalance(), folders=("evidence/no_such_set",)))
    (p,) = recipe.problems()
    assert "evidence/no_such_set/ is not in the repository" in p


def test_fewer_seeds_than_stated_is_a_problem(patched_sets):
    patched_sets(_imbalance(seeds=10))
    assert any("states 10 seeds in balanced, the set has 5" in p for p in recipe.problems())


def test_a_regime_the_set_lacks_is_a_problem(patched_sets):
    patched_sets(_imbalance(regimes=("balanced", "tail 3.3", "yeast")))
    assert any("states regime 'yeast'" in p for p in recipe.problems())


def test_an_unknown_target_or_comparison_is_a_problem(patched_sets):
    patched_sets(_imbalance(target="recipe:no_such_step"), _imbalance(comparison="nope"))
    found = recipe.problems()
    assert any("no such recipe step" in p for p in found) and any("no comparison 'nope'" in p for p in found)


def _held(**changes):
    es = recipe.get_set("label_problems")
    h = dataclasses.replace(es.held[0], **changes)
    return dataclasses.replace(es, backs=(), held=(h,))


def test_a_claim_tally_states_what_each_run_recorded(patched_sets):
    patched_sets(_held())
    text = recipe.over_seeds("recipe:label_columns")
    by_run = pd.read_csv(repo_root() / "evidence" / "label_problems" / "claims_by_run.csv")
    for claim in recipe.get_set("label_problems").held[0].claims:
        runs = by_run[by_run["claim"] == claim]
        held = int((runs["status"] == "held").sum())
        assert f"claim `{claim}` held on {held} of {len(runs)} runs in tail 2.5" in text
    assert not recipe.problems()


def test_a_claim_tally_problem_is_reported(patched_sets):
    sets = [_held(claims=("no_such_claim",)), _held(seeds=10), _held(regimes=("yeast",))]
    patched_sets(*(dataclasses.replace(es, name=f"set{i}") for i, es in enumerate(sets)))
    found = recipe.problems()
    assert any("no run recorded the claim(s) no_such_claim" in p for p in found)
    assert any("states 10 seeds in tail 2.5, the set has 5" in p for p in found)
    assert any("states regime 'yeast'" in p for p in found)


def test_sentences_are_the_readme_verdicts_in_words(patched_sets):
    """A notebook prints a set's verdicts with recipe.sentences: the README's family, one line per judged row."""
    j = recipe.judged("label_problems")
    lines = recipe.sentences("label_problems")
    assert len(lines) == len(j)
    for _, r in j.iterrows():
        line = next(x for x in lines if x.startswith(f"{r['setup']} minus ") and f", {r['view']}, " in x)
        assert f"{int(r['n'])} seeds" in line and f": {r['verdict']} (" in line
        assert stats.fmt_ci(r["low"], r["high"]) in line
    assert len(recipe.sentences("label_problems", comparisons=("partial",))) == len(j[j["comparison"] == "partial"])
    patched_sets(dataclasses.replace(recipe.get_set("label_problems"), folders=("evidence/no_such_set",)))
    (line,) = recipe.sentences("label_problems")
    assert "no evidence set evidence/no_such_set yet" in line and "make_evidence label_problems" in line


def test_claim_tally_words_name_failures():
    from helpers import claim_tally

    row = {"held": 3, "runs": 5, "failed": 1, "failed seeds": "3", "not applicable": 1, "not reached": 0}
    assert claim_tally.words(row) == "held on 3 of 5 runs (failed on seed 3; not applicable on 1)"
    row = {**row, "failed": 2, "failed seeds": "1, 3", "not applicable": 0}
    assert claim_tally.words(row) == "held on 3 of 5 runs (failed on seeds 1, 3)"


def test_a_step_without_a_set_says_so(patched_sets):
    patched_sets()
    assert recipe.over_seeds("recipe:rare_labels") == recipe.NO_SET
    assert recipe.without_evidence("recipe") == [s.key for s in recipe.RECIPE]
    assert f"| {recipe.NO_SET} |" in recipe.markdown_findings()


def test_regimes_are_named_from_data_and_tail():
    df = pd.DataFrame({"data": ["scenes", "scenes", "../shared/data/multilabel/yeast.npz"], "tail": [0.0, 3.3, 0.0]})
    assert list(recipe._regimes(df, "")) == ["balanced", "tail 3.3", "yeast"]
    assert list(recipe._regimes(pd.DataFrame({"seed": [0]}), "tail 3.3")) == ["tail 3.3"]


def test_record_tables_export_the_runs_other_tables(tmp_path):
    """helpers.evidence writes tables.csv: every list of flat records a run's metrics.json holds, with the run's
    parameters (notebook 02's cardinality rows, which results.csv does not hold)."""
    run = tmp_path / "r1"
    run.mkdir()
    write_json_atomic(run / "metrics.json", {
        "notebook": "02", "params": {"seed": 0}, "results": [{"setup": "a", "map": 0.5}], "claims": [{"id": "x"}],
        "cardinality": [{"objects_per_scene": 1, "setup": "a", "micro_f1": 0.9, "seed": 7}], "other": {"k": 1}})
    statuses = [{"run_id": "r1", "status": "ok", "params": {"seed": 0, "setups": ["a", "b"]}},
                {"run_id": "r2", "status": "failed", "params": {"seed": 1}}]
    t = evidence.record_tables(tmp_path, statuses)
    assert list(t["table"]) == ["cardinality"] and t.loc[0, "micro_f1"] == 0.9
    assert t.loc[0, "seed"] == 0 and t.loc[0, "entry.seed"] == 7 and t.loc[0, "setups"] == '["a", "b"]'
    assert evidence.record_tables(tmp_path, statuses[1:]).empty


def test_a_table_set_reads_its_renamed_columns():
    es = recipe.get_set("thresholds")
    assert isinstance(es, EvidenceSet) and es.kind == "table"
    rows = recipe.rows_for(es, Backs("recipe:rare_labels", "rules", ("tail 3.3",), setups=("fixed 0.5",)))
    judged_csv = pd.read_csv(repo_root() / "evidence" / "thresholds" / "judged.csv")
    ref = judged_csv[(judged_csv["setup"] == "bce_with_logits") & (judged_csv["rule"] == "fixed 0.5")].iloc[0]
    got = rows[rows["group"] == "model=bce_with_logits"].iloc[0]
    assert got["mean"] == pytest.approx(ref["mean"]) and got["low"] == pytest.approx(ref["low"])
    assert got["verdict"] == ref["verdict"]


@pytest.mark.parametrize("folder", [f for es in recipe.SETS if es.kind == "sweep" for f in es.folders])
def test_each_sweep_set_matches_its_spec_and_names_its_code(folder):
    """A cited sweep set was made by the committed spec of the same name, and its provenance names the commit,
    threads and code hashes (a failed run stays in its table, with its error)."""
    ev = evidence.load(repo_root() / folder)
    name = ev.manifest["sweep"]
    spec = repo_root() / "sweeps" / f"{name}.yaml"
    assert (repo_root() / folder / "spec.yaml").read_text() == spec.read_text(), (
        f"{folder}/spec.yaml and sweeps/{name}.yaml differ: rerun the sweep and export it again")
    prov = ev.provenance
    assert prov["commit"] and prov["threads"]["torch_threads"] and ev.manifest["notebook"] in prov["code"]["files"]
    runs = ev.table.groupby("run_id")["status"].first()
    assert len(runs) == len(ev.manifest["runs"]) == prov["runs"]
    failed = ev.table[ev.table["status"] == "failed"]
    assert failed["error"].notna().all()


def test_a_direction_the_words_state_is_checked_against_the_verdicts(monkeypatch):
    """recipe.Says: a step that says a mistake helps (or an effect that is a difference is no gain) is a problem."""
    step = next(s for s in recipe.RECIPE if s.key == "training_loop")
    assert step.says and not recipe.says_problems(step)
    wrong = dataclasses.replace(step, says=(recipe.Says("loop_mistakes", "mistakes", "no zero_grad", "gain"),
                                            recipe.Says("label_problems", "partial", "partial masked loss", "no_gain"),
                                            recipe.Says("loop_mistakes", "mistakes", "nope", "loss"),
                                            recipe.Says("loop_mistakes", "mistakes", "no zero_grad", "no_loss",
                                                        views=("tuned macro-F1",)),
                                            recipe.Says("loop_mistakes", "mistakes", "no zero_grad", "worse")))
    found = recipe.says_problems(wrong)
    assert len(found) == 5 and "the set shows: tuned macro-F1, balanced" in found[0] and "no judged row" in found[2]
    assert "says no_loss for no zero_grad" in found[3] and "kind must be gain, loss, no_gain or no_loss" in found[4]
    monkeypatch.setattr(recipe, "RECIPE", (wrong,))
    assert any("says gain for no zero_grad" in p for p in recipe.problems())


def test_the_command_prints_a_sets_verdicts_in_words(capsys):
    assert recipe.main(["model_selection"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# model_selection: ")
    judged = recipe.judged("model_selection")
    assert len(out) == 1 + len(judged)
    assert all(" 10 seeds, " in line and line.endswith(").") for line in out[1:])
    assert sum(": a difference (" in line for line in out[1:]) == int((judged["verdict"] == stats.DIFFERENCE).sum())


def test_the_command_names_the_sets_when_one_is_unknown(capsys):
    assert recipe.main(["model_selection", "no_such_set"]) == 2
    err = capsys.readouterr().err
    assert "no evidence set 'no_such_set'" in err and "model_selection" in err


def test_the_hamming_loss_sesoi_is_notebook_11s_rule():
    """One rule, two readers: the README's verdicts (the registry) and notebook 11's table (helpers.benchmarks)."""
    from helpers import benchmarks

    for name in ("real_benchmarks", "real_benchmarks_many"):
        j = recipe.judged(name)
        density = recipe._table(recipe.get_set(name), "results").groupby("regime")["density"].first()
        rows = j[j["view"] == "Hamming loss"]
        assert len(rows) == len(density)
        for _, r in rows.iterrows():
            assert r["sesoi"] == pytest.approx(benchmarks.hamming_sesoi(density[r["regime"]]))
