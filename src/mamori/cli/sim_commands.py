"""``mamori simulate`` and ``mamori evaluate``: the attack simulator and the closed-loop evaluation of
a rule set against it (:mod:`mamori.sim`). ``register(main)`` adds both commands to a click group."""

from __future__ import annotations

from pathlib import Path

import click


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("expected integers separated by commas, e.g. 1,2,3", param_hint="--seeds") from None
    if not seeds:
        raise click.BadParameter("no seed given", param_hint="--seeds")
    return seeds


@click.command("simulate")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for events.jsonl, labels.jsonl and campaigns.json.")
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=14, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--campaigns", type=click.IntRange(min=0), default=40, show_default=True,
              help="Attack campaigns (phishing 40%, stuffing 15%, pump 20%, takeover+withdrawal 25%).")
@click.option("--warmup-days", type=click.IntRange(min=0), default=None,
              help="Attack-free days at the start, not measured (default: min(3, days - 1)).")
def simulate_command(out: Path, customers: int, days: int, seed: int, campaigns: int,
                     warmup_days: int | None) -> None:
    """Simulate a securities firm's customers and labelled attack campaigns (deterministic per seed)."""
    from mamori.sim.simulate import SimParams, simulate, summary, write_simulation

    sim = simulate(SimParams(customers=customers, days=days, seed=seed, campaigns=campaigns,
                             warmup_days=warmup_days))
    write_simulation(sim, out)
    s = summary(sim)
    scenarios = " ".join(f"{k}={v}" for k, v in s["campaigns_by_scenario"].items())
    click.echo(f"simulate events={s['events']} attack_events={s['attack_events']} campaigns={s['campaigns']} "
               f"lookalikes={s['lookalikes']} {scenarios} out={out}")


@click.command("evaluate")
@click.argument("sim_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), required=False)
@click.option("--rules", "rules_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rule set directory (default: the built-in rules).")
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True,
              help="When simulating in-process (no SIM_DIR).")
@click.option("--days", type=click.IntRange(min=1), default=14, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--seeds", default=None, help="Simulate and aggregate several seeds, e.g. 1,2,3.")
@click.option("--campaigns", type=click.IntRange(min=0), default=40, show_default=True)
@click.option("--warmup-days", type=click.IntRange(min=0), default=None,
              help="Attack-free, unmeasured days at the start (default: min(3, days - 1)).")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where report.json and tradeoff.svg go (default: SIM_DIR, else ./mamori-evaluate).")
@click.option("--sweep", type=click.Choice(["rescore", "exact"]), default="rescore", show_default=True,
              help="Trade-off curve: re-score recorded login decisions, or re-run the engine per threshold.")
def evaluate_command(sim_dir: Path | None, rules_path: Path | None, customers: int, days: int, seed: int,
                     seeds: str | None, campaigns: int, warmup_days: int | None, out: Path | None,
                     sweep: str) -> None:
    """Replay a simulation through the engine closed-loop and report what the rules stop.

    SIM_DIR is the output of `mamori simulate`; without it the simulation runs in-process with the
    given options. The last line is machine-readable:
    `evaluate takeover_recall=.. stopped_before_first_order=.. legit_challenge_rate=.. yen_prevented_ratio=..`
    """
    from mamori.risk.rules.loader import builtin_ruleset, load_ruleset
    from mamori.sim.evaluate import evaluate, summary_lines, write_report
    from mamori.sim.simulate import SimParams, read_simulation, simulate

    seed_list = _seeds(seeds)
    if sim_dir is not None and seed_list is not None:
        raise click.UsageError("--seeds simulates in-process; it cannot be combined with SIM_DIR")
    ruleset = load_ruleset(rules_path) if rules_path else builtin_ruleset()
    if sim_dir is not None:
        try:
            sims = [read_simulation(sim_dir)]
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"{sim_dir}: not a simulation directory ({exc})") from None
    else:
        sims = [simulate(SimParams(customers=customers, days=days, seed=s, campaigns=campaigns,
                                   warmup_days=warmup_days)) for s in (seed_list or [seed])]
    report = evaluate(sims, ruleset, sweep=sweep)
    target = out or sim_dir or Path("mamori-evaluate")
    json_path, svg_path, html_path = write_report(report, target)
    lines = summary_lines(report)
    for line in lines[:-1]:
        click.echo(line)
    click.echo(f"wrote {json_path} {svg_path} {html_path}")
    click.echo(lines[-1])


def register(group: click.Group) -> None:
    """Add ``simulate`` and ``evaluate`` to the ``mamori`` command group."""
    group.add_command(simulate_command)
    group.add_command(evaluate_command)
