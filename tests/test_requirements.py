"""requirements.txt must install a CPU-only torch on Streamlit Community Cloud, unedited.

Cloud installs requirements.txt with uv and falls back to pip. PyPI's Linux torch
wheels are CUDA builds (several GB of nvidia-* packages); PyTorch's CPU index holds
the same releases as `X.Y.Z+cpu`. `problems()` reads a requirements text and lists
every way torch could still come out a CUDA build, by resolving torch the way each
installer picks among indexes (documented behaviour, checked against PEP 440 with
`packaging`):

- pip pools the versions of every index and takes the highest one the specifier
  allows; a local label sorts above the plain release, so `2.13.0+cpu` beats
  PyPI's `2.13.0`, but PyPI's next release beats both;
- uv (`index-strategy = first-index`, its default) ranks `--extra-index-url`
  indexes, in order, above the default index, and takes a package only from the
  first index that has it at all.

References: PEP 440 (local version identifiers: matching and ordering); pip
"Finding and choosing files" (the best candidate is the highest version); uv
docs, "Package indexes: searching across multiple indexes"; PyTorch "Get started"
(CPU wheels on https://download.pytorch.org/whl/cpu).
"""

from __future__ import annotations

import importlib.metadata as md
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPI = "https://pypi.org/simple"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Packages built per accelerator: each must resolve to its +cpu build, like torch.
TORCH_FAMILY = {"torch", "torchvision", "torchaudio", "torchtext", "torchdata"}
CUDA_ONLY = re.compile(r"^(nvidia-.*|triton|pytorch-triton.*)$")


def _bump(v: Version, minor: int = 0, micro: int = 0) -> Version:
    return Version(f"{v.major}.{v.minor + minor}.{v.micro + micro if not minor else 0}")


def offers(index: str, pinned: Version) -> list[Version]:
    """What an index may list for a torch-family package around the pinned release.

    PyPI: plain versions, CUDA builds on Linux, including releases newer than the pin
    (PyPI can have a release before the CPU index does). The CPU index: `+cpu`
    builds up to the pin. A CUDA index (`.../whl/cu130`): `+cu130` builds.
    Any other index: unknown, so assume the worst (plain CUDA-like versions).
    """
    base = Version(pinned.base_version)
    near = [Version(f"{base.major}.0.0"), base, _bump(base, micro=1), _bump(base, minor=1)]
    url = index.rstrip("/")
    if url == CPU_INDEX:
        return [Version(f"{v}+cpu") for v in near[:2]]
    if m := re.fullmatch(r"https://download\.pytorch\.org/whl/(cu\d+|rocm[\d.]+)", url):
        return [Version(f"{v}+{m.group(1).replace('.', '')}") for v in near]
    return near


def is_cpu(v: Version) -> bool:
    return v.local == "cpu"


def parse(text: str, read: Callable[[str], str]) -> tuple[list[str], list[str], list[str]]:
    """(index options, requirement lines, problems) of a requirements text, `-r` files inlined."""
    text = re.sub(r"\\\n", " ", text)
    options, reqs, problems = [], [], []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if m := re.match(r"^(-r|--requirement)[\s=]+(\S+)$", line):
            o, r, p = parse(read(m.group(2)), read)
            options, reqs, problems = options + o, reqs + r, problems + p
        elif line.startswith("-"):
            options.append(line)
        else:
            reqs.append(re.split(r"\s+--", line)[0])  # drop per-line options (--hash)
    return options, reqs, problems


def indexes(options: list[str]) -> tuple[list[str], list[str]]:
    """(uv's search order, problems) from the index options."""
    extra, problems = [], []
    for opt in options:
        m = re.match(r"^(--extra-index-url|--index-url|-i|--find-links|-f)[\s=]+(\S+)$", opt)
        if m and m.group(1) == "--extra-index-url":
            extra.append(m.group(2).rstrip("/"))
        elif m and m.group(1) in ("--index-url", "-i"):
            problems.append(f"`{opt}` replaces PyPI: keep PyPI, add the CPU index with --extra-index-url")
        elif m:
            problems.append(f"`{opt}`: a find-links location can hold any torch build")
        elif opt.split()[0] in ("-c", "--constraint", "-e", "--editable", "--no-index"):
            problems.append(f"`{opt}` is not checked by this test: keep requirements.txt to plain pins")
    return [*extra, PYPI], problems


def pick(
    name: str, req: Requirement, order: list[str], pinned: Version
) -> tuple[Version | None, Version | None]:
    """The version pip and uv would pick for `req` from the indexes in `order`.

    The indexes are modelled around the release `req` pins (`pinned` if it pins none).
    """
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        pinned = Version(specs[0].version)
    pool = {i: [v for v in offers(i, pinned) if req.specifier.contains(v, prereleases=True)] for i in order}
    everything = [v for vs in pool.values() for v in vs]
    by_pip = max(everything) if everything else None
    first = next((i for i in order if offers(i, pinned)), None)  # uv: first index that has the package
    by_uv = max(pool[first]) if first and pool[first] else None
    return by_pip, by_uv


def installed_requires(name: str) -> list[str] | None:
    try:
        return md.requires(name) or []
    except md.PackageNotFoundError:
        return None


def problems(
    text: str,
    read: Callable[[str], str] = lambda p: (ROOT / p).read_text(),
    requires: Callable[[str], list[str] | None] = installed_requires,
) -> list[str]:
    """Every way `text` could install a CUDA torch (empty: CPU torch under pip and uv)."""
    options, lines, found = parse(text, read)
    order, index_problems = indexes(options)
    found += index_problems
    if CPU_INDEX not in order:
        found.append(f"no `--extra-index-url {CPU_INDEX}`: torch comes from PyPI, a CUDA build")
    for url in order:
        if "download.pytorch.org" in url and url != CPU_INDEX:
            found.append(f"index {url} serves non-CPU builds")
    reqs: dict[str, Requirement] = {}
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            found.append(f"cannot parse `{line}`")
            continue
        name = canonicalize_name(req.name)
        if name in reqs:
            found.append(f"{name} listed twice")
        reqs[name] = req
        if CUDA_ONLY.match(name):
            found.append(f"{name} is a CUDA component")
    torch = reqs.get("torch")
    pinned = None
    if torch is None:
        found.append("torch is not pinned in the file: whatever pulls it gets PyPI's CUDA build")
    else:
        specs = list(torch.specifier)
        if torch.url or len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            found.append(f"`{torch}`: pin torch to one release with `==X.Y.Z`")
        elif Version(specs[0].version).local not in (None, "cpu"):
            found.append(f"`{torch}` pins a non-CPU build")
        else:
            pinned = Version(specs[0].version)
        if torch.marker is not None:
            found.append(f"`{torch}`: a marker leaves torch unpinned on other platforms")
    for name, req in reqs.items():
        if name in TORCH_FAMILY and pinned is not None:
            by_pip, by_uv = pick(name, req, order, pinned)
            for tool, v in (("pip", by_pip), ("uv", by_uv)):
                if v is None:
                    found.append(f"{tool} finds no {name} for `{req}`")
                elif not is_cpu(v):
                    found.append(f"{tool} would install {name} {v}, not a CPU build")
    # A package that depends on torch (or on CUDA parts) directly or further down.
    seen: set[str] = set()
    todo = [(n, n) for n in reqs if n not in TORCH_FAMILY]
    while todo:
        name, via = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        deps = requires(name)
        if deps is None:
            if name in reqs:
                found.append(f"{name} is not installed here: cannot see whether it pulls torch")
            continue
        for dep in deps:
            d = Requirement(dep)
            if d.marker is not None and not d.marker.evaluate({"extra": ""}):
                continue  # an optional extra, or another platform
            dn = canonicalize_name(d.name)
            if CUDA_ONLY.match(dn):
                found.append(f"{via} pulls {dn}, a CUDA component")
            elif dn == "torch":
                if pinned is not None and not d.specifier.contains(pinned, prereleases=True):
                    found.append(f"{via} needs `{d}`, which the torch pin does not satisfy")
            else:
                todo.append((dn, via))
    return found


# What requirements.txt is for ---------------------------------------------------------------------


def test_pep440_makes_the_plain_pin_pick_the_cpu_build():
    """`==2.13.0` matches `2.13.0+cpu`, and the +cpu build sorts above PyPI's `2.13.0` (PEP 440)."""
    spec = Requirement("torch==2.13.0").specifier
    assert spec.contains("2.13.0+cpu") and spec.contains("2.13.0")
    assert Version("2.13.0+cpu") > Version("2.13.0")
    assert not spec.contains("2.13.1")


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_requirements_install_cpu_torch_under_pip_and_uv(name):
    assert problems((ROOT / name).read_text()) == []


def test_the_pin_is_the_torch_this_machine_has():
    """The pin names the release of the local wheel, so `make` installs offline."""
    _, lines, _ = parse((ROOT / "requirements.txt").read_text(), lambda p: (ROOT / p).read_text())
    (pin,) = [Requirement(line) for line in lines if canonicalize_name(Requirement(line).name) == "torch"]
    here = Version(md.version("torch"))
    assert here.local in (None, "cpu")
    assert Version(next(iter(pin.specifier)).version).base_version == here.base_version


# The check itself can fail -------------------------------------------------------------------------

GOOD = f"--extra-index-url {CPU_INDEX}\nstreamlit==1.67.0\ntorch==2.13.0\n"
FAKE_DEPS = {
    "streamlit": ["numpy"],
    "numpy": [],
    "sentence-transformers": ["torch>=1.11", "numpy"],
    "needs-new-torch": ["torch>=2.14"],
    "cuda-thing": ["nvidia-cublas-cu12==12.8; sys_platform == 'linux'"],
    "optional-torch": ['torch; extra == "gpu"'],
    "torchvision": ["torch==2.13.0"],
}


def fake_requires(name: str) -> list[str] | None:
    return FAKE_DEPS.get(name)


def check(text: str) -> list[str]:
    return problems(text, read=lambda p: GOOD, requires=fake_requires)


def test_good_text_passes():
    assert check(GOOD) == []
    assert check(GOOD.replace("torch==2.13.0", "torch==2.13.0+cpu")) == []
    assert check(GOOD + "optional-torch==1.0\n") == []
    assert check(GOOD + f"torchvision==0.28.0\n--extra-index-url {CPU_INDEX}/\n") == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("streamlit==1.67.0\ntorch==2.13.0\n", "no `--extra-index-url"),  # no CPU index: PyPI's CUDA build
        (GOOD.replace("torch==2.13.0", "torch"), "pin torch"),
        (GOOD.replace("torch==2.13.0", "torch>=2.13"), "pin torch"),
        (GOOD.replace("torch==2.13.0", "torch~=2.13.0"), "pin torch"),
        (GOOD.replace("torch==2.13.0", "torch==2.13.*"), "pin torch"),
        (GOOD.replace("torch==2.13.0", "torch==2.13.0+cu130"), "non-CPU"),
        (GOOD.replace("torch==2.13.0", "torch==2.13.0; sys_platform == 'darwin'"), "marker"),
        (
            GOOD.replace("torch==2.13.0", "torch @ https://example.org/torch-2.13.0-cp311-linux.whl"),
            "pin torch",
        ),
        (GOOD.replace("torch==2.13.0", "sentence-transformers==5.0.0"), "torch is not pinned"),
        (GOOD + "needs-new-torch==1.0\n", "does not satisfy"),
        (GOOD + "cuda-thing==1.0\n", "CUDA component"),
        (GOOD + "nvidia-cudnn-cu12==9.0\n", "CUDA component"),
        (GOOD + "torchvision\n", "torchvision"),  # unpinned: pip takes PyPI's newer CUDA release
        (GOOD + "--extra-index-url https://download.pytorch.org/whl/cu130\n", "non-CPU"),
        (GOOD.replace(f"--extra-index-url {CPU_INDEX}", f"--index-url {CPU_INDEX}"), "replaces PyPI"),
        (GOOD + "--find-links https://example.org/wheels\n", "find-links"),
        (GOOD + "left-pad==1.0\n", "not installed"),
        ("-r other.txt\ntorch\n", "listed twice"),  # the included file pins it, this line does not
    ],
)
def test_bad_text_fails(text, says):
    found = check(text)
    assert any(says in f for f in found), found


def test_pip_takes_pypis_newer_release_over_the_cpu_index():
    """Why a range is unsafe: pip pools indexes, and PyPI may list a newer (CUDA) release first."""
    pinned = Version("2.13.0")
    order = [CPU_INDEX, PYPI]
    assert pick("torch", Requirement("torch==2.13.0"), order, pinned) == (Version("2.13.0+cpu"),) * 2
    by_pip, by_uv = pick("torch", Requirement("torch>=2.13"), order, pinned)
    assert by_pip == Version("2.14.0") and by_uv == Version("2.13.0+cpu")
    by_pip, by_uv = pick("torch", Requirement("torch==2.13.0"), [PYPI], pinned)
    assert by_pip == by_uv == Version("2.13.0")  # no CPU index: the CUDA build


def test_offline_copy_drops_only_the_pytorch_index():
    """scripts/install_requirements.py: the copy `make` installs has no PyTorch index and every pin."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "install_requirements", ROOT / "scripts" / "install_requirements.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    lines = mod.flatten(ROOT / "requirements-dev.txt")
    kept = [line for line in lines if not mod.PYTORCH_INDEX.match(line)]
    assert any("download.pytorch.org" in line and not line.startswith("#") for line in lines)
    assert not any("download.pytorch.org" in line and not line.lstrip().startswith("#") for line in kept)
    assert [mod.TORCH_PIN.match(line).group(1) for line in lines if mod.TORCH_PIN.match(line)] == ["2.13.0"]
    assert len(kept) == len(lines) - 1
