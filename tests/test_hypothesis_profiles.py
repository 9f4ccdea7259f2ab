"""The Hypothesis profile follows the environment (issue 21): derandomised under CI=true, exploring on request."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CODE = (
    "import tests.conftest; from hypothesis import settings; s = settings.default; "
    "print(settings._current_profile, s.derandomize, s.deadline)"
)


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"CI": "true"}, "ci True None"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev False None"),
        ({}, "local False None"),
    ],
)
def test_profile_is_chosen_by_the_environment(env, expected):
    clean = {"PATH": "/usr/bin:/bin", **env}
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, cwd=ROOT, env=clean, check=True
    )
    assert out.stdout.strip() == expected
