"""Where things live. One place, so notebooks, the CLI and tests agree."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"
DEFAULT_DATA = DATA_DIR / "synthetic" / "trial.csv"  # the embedded calibrated synthetic trial
DEFAULT_TRUTH = DATA_DIR / "synthetic" / "trial.truth.json"  # its true parameters
DERIVED_DIR = DATA_DIR / "derived"
NOTEBOOKS_DIR = ROOT / "notebooks"
REPORT_DIR = ROOT / "report"
MANIFEST = REPORT_DIR / "manifest.yml"
DEFAULT_SEED = 20140901
