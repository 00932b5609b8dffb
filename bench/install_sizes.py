"""Installed size of ripdetect and of each extra, measured in an environment where everything is installed: the
files each distribution installed (its RECORD), summed over the dependency closure of ``ripdetect`` alone and of
``ripdetect[EXTRA]`` for every extra; an extra's figure is what it adds to the base install.

    python bench/install_sizes.py
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def dist_size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(name: str, extras: tuple[str, ...] = (), seen: set | None = None) -> set:
    """Every installed distribution that ``name[extras]`` pulls in (markers evaluated for this machine)."""
    seen = set() if seen is None else seen
    key = normalise(name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return seen
    if (key, extras) in seen:
        return seen
    seen.add(key)
    seen.add((key, extras))
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is not None:
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if not any(requirement.marker.evaluate(env) for env in environments):
                continue
        closure(requirement.name, tuple(sorted(requirement.extras)), seen)
    return seen


def names_of(name: str, extras: tuple[str, ...] = ()) -> set[str]:
    return {n for n in closure(name, extras) if isinstance(n, str)}


def size_of(names: set[str]) -> int:
    return sum(dist_size(metadata.distribution(n)) for n in names)


def main() -> None:
    ripdetect = metadata.distribution("ripdetect")
    extras = [e for e in ripdetect.metadata.get_all("Provides-Extra") or [] if e not in ("all", "test", "bench")]
    base = names_of("ripdetect")
    report: dict = {"ripdetect (base)": round(size_of(base) / 2**20, 1)}
    for extra in extras:
        names = names_of("ripdetect", (extra,))
        wanted = {normalise(Requirement(r).name) for r in ripdetect.requires or []
                  if Requirement(r).marker is not None and Requirement(r).marker.evaluate({"extra": extra})}
        missing = sorted(wanted - names)
        report[f"[{extra}] adds"] = f"not installed here ({', '.join(missing)})" if missing else \
            round(size_of(names - base) / 2**20, 1)
    report["[all]"] = round(size_of(names_of("ripdetect", ("all",))) / 2**20, 1)
    biggest = sorted(((dist_size(metadata.distribution(n)), n) for n in base), reverse=True)[:5]
    report["largest in the base"] = {n: round(s / 2**20) for s, n in biggest}
    print(json.dumps({"MB": report}, indent=1))


if __name__ == "__main__":
    main()
