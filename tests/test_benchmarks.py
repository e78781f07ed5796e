"""The frontier's decision rule: a difference is real only beyond the seeds' spread, with three seeds a side."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import frontier  # noqa: E402
import race  # noqa: E402

MEASURES = {"class_iou": 0.17, "distance": 25.0, "kid": 0.09, "detail": -1.2, "checkerboard": 0.0}


def runs(candidate: str, minutes: float, **shifts) -> list[dict]:
    """Three seeds of a candidate: the default's measures plus ``shifts``, with a seed-to-seed wobble."""
    return [{"candidate": candidate, "flags": candidate, "minutes": minutes, "seed": seed, "steps": 100 + seed,
             **{k: v + shifts.get(k, 0.0) + wobble * (0.01 if k == "class_iou" else 0.5 if k == "distance" else 0.001)
                for k, v in MEASURES.items()}}
            for seed, wobble in enumerate((-1.0, 0.0, 1.0))]


@pytest.mark.parametrize(("ours", "theirs", "expected"), [
    ([0.20, 0.21, 0.22], [0.16, 0.17, 0.19], "better"),
    ([0.10, 0.12, 0.15], [0.16, 0.17, 0.19], "worse"),
    ([0.18, 0.20, 0.22], [0.16, 0.17, 0.19], "tie"),
    ([0.30, 0.31], [0.16, 0.17, 0.19], None),
])
def test_a_difference_counts_only_beyond_every_seed_with_three_a_side(ours, theirs, expected):
    assert frontier.seed_verdict(ours, theirs, lambda v: v) == expected


def test_the_detail_gap_is_better_closer_to_zero_from_either_side():
    detail = next(good for key, *_, good in frontier.COMPARED if key == "detail")
    assert frontier.seed_verdict([-0.3, -0.2, 0.25], [-1.3, -1.2, -1.25], detail) == "better"
    assert frontier.seed_verdict([1.3, 1.2, 1.25], [-0.3, -0.2, 0.25], detail) == "worse"


def test_the_verdict_names_each_measure_won_and_lost_against_the_default_at_the_same_minutes():
    default = runs("default", 15)
    wins_and_loses = runs("w64", 15, distance=-8.0, detail=0.6, class_iou=-0.05)
    assert frontier.against_default(wins_and_loses, default) == (
        "better on distance, detail gap; worse on class IoU")
    assert frontier.against_default(runs("ema", 15, class_iou=0.005), default) == "within the spread on every measure"
    assert frontier.against_default(runs("ema", 15)[:1], default).startswith("screen: 1 seed")
    assert frontier.against_default(default, default) == "–"


def test_the_summary_compares_each_budget_with_the_default_at_the_same_minutes():
    rows = [*runs("default", 15), *runs("w64", 15, distance=-8.0), *runs("w64", 30, distance=-9.0)]
    lines = frontier.summary_table(rows).splitlines()[2:]
    assert [line.split(" | ")[:3] for line in lines] == [["| default", "15.0", "3"], ["| w64", "15.0", "3"],
                                                         ["| w64", "30.0", "3"]]
    assert lines[1].rstrip(" |").endswith("better on distance")
    assert lines[2].rstrip(" |").endswith("no default run at these minutes")
    assert "25.0 (24.5 to 25.5)" in lines[0]


def test_a_runs_raw_weights_line_follows_its_average_and_says_so():
    assert frontier.candidate_label("ema") == "--ema 0.999"
    assert frontier.candidate_label("ema" + frontier.RAW) == "--ema 0.999, its raw weights"
    order = sorted(["l1", "ema" + frontier.RAW, "default", "ema", "w64"], key=frontier.candidate_order)
    assert order == ["default", "w64", "ema", "ema" + frontier.RAW, "l1"]


def race_rows(side: str, minutes: float, class_ious: list[float], distances: list[float]) -> list[dict]:
    return [{"side": side, "minutes": minutes, "seed": seed, "steps": 100 * minutes, "class_iou": iou,
             "distance": distance, "kid": 0.05, "kid_low": 0.04, "kid_high": 0.06, "detail": -1.0, "checkerboard": 0.1}
            for seed, (iou, distance) in enumerate(zip(class_ious, distances))]


def test_the_race_names_the_first_budget_whose_mean_passes_the_tutorials_last_mark_and_how_its_seeds_stand():
    rows = [*race_rows("tutorial", 30, [0.10, 0.12], [30.0, 28.0]),
            *race_rows("tutorial", 60, [0.20, 0.22], [12.0, 10.0]),
            *race_rows("fit", 15, [0.18, 0.21, 0.25], [13.0, 14.0, 15.0]),
            *race_rows("fit", 30, [0.23, 0.24, 0.26], [8.0, 9.0, 9.5])]
    lines = {line.split(":")[0]: line for line in race.catch_up(rows)}
    assert "minute-60 score is 0.210 (0.200 to 0.220) over 2 seeds" in lines["class IoU"]
    assert "passes it at 15 minutes (0.25 of the tutorial's time)" in lines["class IoU"]
    assert "at 15 minutes 0.213 (0.180 to 0.250), 1 of 3 seeds beyond the tutorial seeds' mean" in lines["class IoU"]
    assert "at 30 minutes 0.243 (0.230 to 0.260), every seed (3) beyond every tutorial seed" in lines["class IoU"]
    assert "passes it at 30 minutes (0.50 of the tutorial's time)" in lines["distance"]
    assert "every seed (3) short of every tutorial seed" in lines["distance"]
    assert "does not pass it by 30 minutes" in lines["KID"]
    assert race.reach([0.3], [0.2, 0.25], lambda v: v) == "its one seed beyond every tutorial seed"


def test_the_race_table_has_the_real_photos_then_one_line_per_side_and_minute():
    rows = [*race_rows("fit", 15, [0.18, 0.21, 0.25], [13.0, 14.0, 15.0]),
            *race_rows("tutorial", 60, [0.20, 0.22], [12.0, 10.0])]
    real = {"class_iou": 0.33, "distance": 1.0, "kid": 0.001, "detail": 0.0, "checkerboard": 0.0}
    lines = race.race_table(rows, real, "fit --minutes").splitlines()[2:]
    assert [line.split(" | ")[:4] for line in lines] == [["| real validation photos", "–", "–", "–"],
                                                         ["| fit --minutes", "15", "3", "1500"],
                                                         ["| TensorFlow tutorial recipe", "60", "2", "6000"]]


@pytest.mark.parametrize(("folder", "candidate", "budget", "seed"), [
    ("ema-w64-10min-seed0", "ema-w64", "10min", "0"),
    ("ema-10min-seed1", "ema", "10min", "1"),
    ("num-d2-w64-30min-seed2", "num-d2-w64", "30min", "2"),
    ("default-2000steps-seed0", "default", "2000steps", "0"),
])
def test_a_run_folder_names_its_candidate_even_when_one_name_begins_another(folder, candidate, budget, seed):
    match = frontier.RUN_NAME.fullmatch(folder)
    assert (match[1], match[2], match[3]) == (candidate, budget, seed)


def stored_run(folder: Path, **flags) -> Path:
    from pix2pix_tf.core.config import RunSpec, save_config

    folder.mkdir()
    save_config(RunSpec(input_nc=3, output_nc=3, depth=8, steps_per_epoch=10, constant_steps=5, decay_steps=5,
                        val_holdout=0, precision="float32", **flags), folder)
    return folder


def test_a_run_trained_otherwise_than_its_folder_says_is_refused_not_labelled_by_the_wrong_flags(tmp_path):
    narrow = stored_run(tmp_path / "w64-15min-seed0")
    assert frontier.not_as_named("w64", narrow) == (
        f"{narrow} was trained with --ndf 32 where w64 means 64, --ngf 32 where w64 means 64")
    assert frontier.not_as_named("default", narrow) is None
    with pytest.raises(SystemExit, match="rename or remove the folder"):
        frontier.candidate_runs(frontier.parse_args(["--runs-dir", str(tmp_path)]))
    narrow.rename(tmp_path / "default-15min-seed0")
    stored_run(tmp_path / "b4-15min-seed1", **frontier.CANDIDATES["b4"])
    assert [(name, seed) for name, _, seed in frontier.candidate_runs(frontier.parse_args(
        ["--runs-dir", str(tmp_path)]))] == [("default", 0), ("b4", 1)]


def test_an_earlier_codes_default_is_scored_under_its_own_name_and_never_trained_by_this_checkout(tmp_path):
    """A change that is not a flag keeps its before as a candidate: labelled by what the code did, refused
    by --only (this checkout would train the new code under the old name), found and ordered like any other."""
    assert frontier.unavailable("shared-init") == (
        "fit's default before each layer drew its own initial kernel: only that earlier code trains it")
    assert frontier.candidate_label("shared-init") == "fit's default before each layer drew its own initial kernel"
    with pytest.raises(SystemExit, match="--only shared-init: fit's default before"):
        frontier.train_candidate(frontier.parse_args(["--runs-dir", str(tmp_path)]), "shared-init")
    stored_run(tmp_path / "shared-init-15min-seed2")
    stored_run(tmp_path / "default-15min-seed0")
    assert [(name, seed) for name, _, seed in frontier.candidate_runs(frontier.parse_args(
        ["--runs-dir", str(tmp_path)]))] == [("default", 0), ("shared-init", 2)]


def test_the_final_tables_score_the_runs_a_pattern_names_on_test(tmp_path):
    for folder in ("default-15min-seed0", "default-30min-seed0", "w64-30min-seed1"):
        stored_run(tmp_path / folder, **frontier.CANDIDATES[folder.split("-")[0]])
    args = frontier.parse_args(["--runs-dir", str(tmp_path), "--split", "test", "--runs", "*-30min-*"])
    assert [(path.name, seed) for _, path, seed in frontier.candidate_runs(args)] == [
        ("default-30min-seed0", 0), ("w64-30min-seed1", 1)]
    assert frontier.SPLITS[args.split][-1] == "frontier_test" and frontier.SPLITS["val"][-1] == "frontier"
    either = frontier.parse_args(["--runs-dir", str(tmp_path), "--runs", "w64-*,default-15min-*"])
    assert [path.name for _, path, _ in frontier.candidate_runs(either)] == ["default-15min-seed0", "w64-30min-seed1"]


def test_the_readmes_realism_table_is_what_frontier_json_holds():
    """Every line of the README's realism-per-minute table, the real photos' included, is recomputed from the
    committed frontier.json, so a re-scored or re-trained default cannot leave the front door behind."""
    import json

    from facades import fmt

    from pix2pix_tf.core.config import Config

    results = json.loads((frontier.DEFAULT_RESULTS / "frontier.json").read_text())
    real = next(rung for rung in results["ladder"] if rung["rung"] == "real")
    shown = [(key, digits, scale) for key, _, digits, scale, _ in frontier.COMPARED if key != "checkerboard"]
    width = {"the default, 32 wide": "default", "`--ngf 64 --ndf 64`": "w64"}
    assert Config().ngf == 32 and frontier.CANDIDATES["w64"] == {"ngf": 64, "ndf": 64}
    readme = (Path(frontier.REPO) / "README.md").read_text()
    starts = ("| real validation photos", *(f"| {label} |" for label in width))
    lines = [line for line in readme.splitlines() if line.startswith(starts)]
    assert len(lines) == 5
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "real validation photos":
            assert cells[4:] == [fmt(scale * real[key], digits) for key, digits, scale in shown]
            continue
        seeds = [r for r in results["rows"] if r["candidate"] == width[cells[0]] and r["minutes"] == float(cells[1])]
        steps = sorted(r["steps"] for r in seeds)
        assert cells[2:4] == [str(len(seeds)), f"{steps[0]} to {steps[-1]}"]
        assert cells[4:] == [frontier.spread_cell([r[key] for r in seeds], digits, scale)
                             for key, digits, scale in shown]
