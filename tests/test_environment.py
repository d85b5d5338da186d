"""The environment is one pinned set: environment.yml (conda) and requirements.lock (pip) agree."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock_pins() -> set[str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}


def _conda_pip_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    return {pin.strip().lower() for pin in pip_sections[0]}


def test_every_lock_entry_is_an_exact_pin():
    bad = [p for p in _lock_pins() if not re.fullmatch(r"[a-z0-9_.\-\[\]]+==[\w.+!\-]+", p)]
    assert not bad, f"requirements.lock entries that are not exact 'name==version' pins: {bad}"


def test_environment_yml_and_lock_pin_the_same_set():
    lock, conda = _lock_pins(), _conda_pip_pins()
    assert lock == conda, (
        f"only in requirements.lock: {sorted(lock - conda)}; "
        f"only in environment.yml: {sorted(conda - lock)}. Run 'make lock'."
    )


def test_every_top_level_requirement_is_pinned_in_the_lock():
    wanted = {
        re.split(r"[<>=\[ ]", line.strip())[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    pinned = {p.split("==")[0].replace("_", "-") for p in _lock_pins()}
    assert wanted <= pinned, f"in requirements.in but not pinned: {sorted(wanted - pinned)}"


def test_installed_versions_match_the_lock():
    from importlib.metadata import PackageNotFoundError, version

    mismatched = []
    for pin in _lock_pins():
        name, wanted = pin.split("==")
        try:
            have = version(name)
        except PackageNotFoundError:
            mismatched.append(f"{name}: not installed")
            continue
        if have.lower() != wanted:
            mismatched.append(f"{name}: installed {have}, pinned {wanted}")
    assert not mismatched, "the venv differs from requirements.lock: " + "; ".join(mismatched)
