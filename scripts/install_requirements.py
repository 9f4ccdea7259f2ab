"""Install a requirements file into the running venv; offline when this machine has torch's wheel.

    python scripts/install_requirements.py requirements-dev.txt

`requirements.txt` names PyTorch's CPU index (`--extra-index-url`) so Streamlit
Community Cloud installs the CPU build. Where that index cannot be reached (this
project's machines, offline classrooms), pip would look every package up there
too, and retry each failed lookup about five times with back-off: minutes of
waiting for one install. Turning retries and timeouts down (PIP_RETRIES,
PIP_TIMEOUT) would only shorten each wait, and would also cut pip short on a
slow but working network. So instead:

1. install the pinned torch from local wheels only (`--no-index`: pip's
   `find-links`, no network, fails at once if there is none);
2. if that worked, install the rest from a copy of the requirements without the
   PyTorch index lines (torch is already satisfied, so nothing asks for it);
   otherwise install the file as it is (a machine online gets the CPU build from
   the CPU index, as Cloud does).

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

PYTORCH_INDEX = re.compile(r"^\s*--(extra-)?index-url[\s=]+\S*download\.pytorch\.org", re.IGNORECASE)
TORCH_PIN = re.compile(r"^\s*torch\s*==\s*([^\s;#]+)", re.IGNORECASE)


def flatten(path: Path) -> list[str]:
    """The file's lines with every `-r other.txt` inlined (pip applies options file-wide anyway)."""
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        m = re.match(r"^\s*(-r|--requirement)[\s=]+(\S+)", raw)
        lines += flatten(path.parent / m.group(2)) if m else [raw]
    return lines


def pip(*args: str, quiet_errors: bool = False) -> int:
    err = subprocess.DEVNULL if quiet_errors else None
    return subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *args], stderr=err)


def main(requirements: str) -> int:
    lines = flatten(Path(requirements))
    pins = [m.group(1) for line in lines if (m := TORCH_PIN.match(line))]
    if pins and pip("--no-index", "--no-deps", f"torch=={pins[0]}", quiet_errors=True) == 0:
        offline = [line for line in lines if not PYTORCH_INDEX.match(line)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(offline) + "\n")
        print(f"torch=={pins[0]} from a local wheel; the rest without PyTorch's index")
        try:
            return pip("-r", f.name)
        finally:
            Path(f.name).unlink()
    print("no local torch wheel: installing with the indexes the file names")
    return pip("-r", requirements)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
