"""``mamori simulate`` and ``mamori evaluate``: the attack simulator and the closed-loop evaluation of
a rule set against it (:mod:`mamori.sim`; ``--domain crypto``: the crypto-exchange simulator of
:mod:`mamori.sim.crypto`). ``register(main)`` adds both commands to a click group."""

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


DOMAIN = click.option("--domain", type=click.Choice(["securities", "crypto"]), default="securities", show_default=True,
                      help="securities: an online broker under account-takeover attacks; crypto: a crypto-asset "
                           "exchange with labelled money-laundering and fraud typologies and a synthetic chain.")
DAYS_DEFAULT = {"securities": 14, "crypto": 30}


@click.command("simulate")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for events.jsonl, labels.jsonl and campaigns.json (crypto: events.jsonl, "
                   "labels.json, chain.jsonl, risk-list.csv, episodes.json).")
@DOMAIN
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Simulated days (default: 14 for securities, 30 for crypto).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--campaigns", type=click.IntRange(min=0), default=40, show_default=True,
              help="Attack campaigns (phishing 40%, stuffing 15%, pump 20%, takeover+withdrawal 25%; securities only).")
@click.option("--warmup-days", type=click.IntRange(min=0), default=None,
              help="Attack-free days at the start, not measured (default: min(3, days - 1)).")
def simulate_command(out: Path, domain: str, customers: int, days: int | None, seed: int, campaigns: int,
                     warmup_days: int | None) -> None:
    """Simulate a securities firm's customers and labelled attack campaigns, or (--domain crypto) a crypto
    exchange's customers, labelled typologies and the chain around it (deterministic per seed)."""
    days = days or DAYS_DEFAULT[domain]
    if domain == "crypto":
        _simulate_crypto(out, customers, days, seed, warmup_days)
        return
    from mamori.sim.simulate import SimParams, simulate, summary, write_simulation

    sim = simulate(SimParams(customers=customers, days=days, seed=seed, campaigns=campaigns,
                             warmup_days=warmup_days))
    write_simulation(sim, out)
    s = summary(sim)
    scenarios = " ".join(f"{k}={v}" for k, v in s["campaigns_by_scenario"].items())
    click.echo(f"simulate events={s['events']} attack_events={s['attack_events']} campaigns={s['campaigns']} "
               f"lookalikes={s['lookalikes']} {scenarios} out={out}")


def _simulate_crypto(out: Path, customers: int, days: int, seed: int, warmup_days: int | None) -> None:
    from mamori.sim.crypto.simulate import simulate, summary

    try:
        sim = simulate(customers, days, seed, warmup_days=warmup_days)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sim.write(out)
    s = summary(sim)
    typologies = " ".join(f"{k}={v}" for k, v in s["episodes_by_typology"].items())
    click.echo(f"simulate-crypto events={s['events']} labelled_events={s['labelled_events']} episodes={s['episodes']} "
               f"chain_transactions={s['chain_transactions']} risk_list_entries={s['risk_list_entries']} "
               f"{typologies} out={out}")


@click.command("evaluate")
@click.argument("sim_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), required=False)
@DOMAIN
@click.option("--rules", "rules_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rule set directory (default: the built-in rules).")
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True,
              help="When simulating in-process (no SIM_DIR).")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Simulated days in-process (default: 14 for securities, 30 for crypto).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--seeds", default=None, help="Simulate and aggregate several seeds, e.g. 1,2,3 (both domains).")
@click.option("--campaigns", type=click.IntRange(min=0), default=40, show_default=True,
              help="Attack campaigns when simulating in-process (securities only).")
@click.option("--warmup-days", type=click.IntRange(min=0), default=None,
              help="Attack-free, unmeasured days at the start (default: min(3, days - 1)).")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where report.json and tradeoff.svg go (default: SIM_DIR, else ./mamori-evaluate).")
@click.option("--sweep", type=click.Choice(["rescore", "exact"]), default="rescore", show_default=True,
              help="Trade-off curve: re-score recorded login decisions, or re-run the engine per threshold.")
@click.option("--exposure", is_flag=True, default=False,
              help="Crypto: also screen indirect exposure over the simulated chain (hindsight: an upper bound).")
def evaluate_command(sim_dir: Path | None, domain: str, rules_path: Path | None, customers: int, days: int | None,
                     seed: int, seeds: str | None, campaigns: int, warmup_days: int | None, out: Path | None,
                     sweep: str, exposure: bool) -> None:
    """Replay a simulation through the engine closed-loop and report what the rules stop.

    SIM_DIR is the output of `mamori simulate`; without it the simulation runs in-process with the
    given options. The last line is machine-readable:
    `evaluate takeover_recall=.. stopped_before_first_order=.. legit_challenge_rate=.. yen_prevented_ratio=..`
    (--domain crypto: `evaluate-crypto recall=.. precision=.. alerts_per_1000=.. <typology>_recall=..`).
    """
    days = days or DAYS_DEFAULT[domain]
    if domain == "crypto":
        seed_list = _seeds(seeds)
        if sim_dir is not None and seed_list is not None:
            raise click.UsageError("--seeds simulates in-process; it cannot be combined with SIM_DIR")
        _evaluate_crypto(sim_dir, rules_path, customers, days, seed_list or [seed], warmup_days, out, exposure)
        return
    if exposure:
        raise click.UsageError("--exposure is for --domain crypto")
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


def _evaluate_crypto(sim_dir: Path | None, rules_path: Path | None, customers: int, days: int, seeds: list[int],
                     warmup_days: int | None, out: Path | None, exposure: bool) -> None:
    from mamori.risk.rules.loader import builtin_ruleset, load_ruleset
    from mamori.sim.crypto.evaluate import evaluate
    from mamori.sim.crypto.files import read_simulation
    from mamori.sim.crypto.report import summary_lines, write_report
    from mamori.sim.crypto.simulate import simulate

    ruleset = load_ruleset(rules_path) if rules_path else builtin_ruleset()
    if sim_dir is not None:
        try:
            sims = [read_simulation(sim_dir)]
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"{sim_dir}: not a crypto simulation directory ({exc})") from None
    else:
        try:
            sims = [simulate(customers, days, s, warmup_days=warmup_days) for s in seeds]
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    try:
        report = evaluate(sims, ruleset, exposure=exposure)
    except ValueError as exc:
        raise click.ClickException(f"{sim_dir or 'simulation'}: {exc}") from None
    path = write_report(report, out or sim_dir or Path("mamori-evaluate"))
    lines = summary_lines(report)
    for line in lines[:-1]:
        click.echo(line)
    click.echo(f"wrote {path}")
    click.echo(lines[-1])


def register(group: click.Group) -> None:
    """Add ``simulate`` and ``evaluate`` to the ``mamori`` command group."""
    group.add_command(simulate_command)
    group.add_command(evaluate_command)
