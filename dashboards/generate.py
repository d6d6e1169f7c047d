"""Writes the dashboards as JSON: `python -m dashboards.generate [--out DIR] [--check]`.

The output is deterministic (sorted keys, two-space indent, panel ids assigned in order), so
the committed files change only when the code does. `--check` writes nothing and exits 1 when
a committed file differs from what the code generates.

The on-time colours are written at the objective of IOCMON_ON_TIME_OBJECTIVE (default 0.999),
the number the terminal wall, the API's rankings and the rules (`python -m iocmon.slo.rules`)
read too: a province with another objective generates both with it set.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import engineering, oncall, wall
from dashboards.common import OnTimeTarget
from iocmon.config import Settings

HERE = Path(__file__).resolve().parent

BOARDS: dict[str, Callable[[OnTimeTarget], builders.Dashboard]] = {
    "iocmon-wall.json": wall.build,
    "iocmon-oncall.json": lambda target: oncall.build(),  # no on-time figure on it
    "iocmon-engineering.json": engineering.build,
}


def render(
    build: Callable[[OnTimeTarget], builders.Dashboard], target: OnTimeTarget | None = None
) -> str:
    """The dashboard as Grafana JSON text, with stable panel ids."""
    model = json.loads(json.dumps(build(target or OnTimeTarget()).build(), cls=JSONEncoder))
    _number_panels(model)
    return json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _number_panels(model: dict[str, Any]) -> None:
    """Panel ids 1, 2, … in layout order (rows and the panels inside collapsed rows too)."""
    next_id = 1
    for panel in model.get("panels", []):
        panel["id"] = next_id
        next_id += 1
        for inner in panel.get("panels", []):
            inner["id"] = next_id
            next_id += 1


def generate(out_dir: Path = HERE, objective: float | None = None) -> dict[Path, str]:
    """Renders every dashboard at `objective` (default: IOCMON_ON_TIME_OBJECTIVE's); returns
    {path: text} without writing."""
    if objective is None:
        objective = Settings.from_env().on_time_objective
    target = OnTimeTarget(objective)
    return {out_dir / name: render(build, target) for name, build in BOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)

    stale = []
    for path, text in generate(args.out).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if args.check:
            if current != text:
                stale.append(path)
        elif current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            print(f"unchanged {path}")
    if stale:
        names = ", ".join(str(p) for p in stale)
        print(
            f"out of date: {names}. Run `python -m dashboards.generate` (with the same "
            "IOCMON_ON_TIME_OBJECTIVE) and commit the result.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
