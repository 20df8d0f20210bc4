"""What a phone downloads: the pages' own CSS and JavaScript stay small (htmx is the only
library), and in production static files are served compressed under hashed names."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
OWN_ASSETS = ["static/css/app.css", "static/js/app.js"]
BUDGET_BYTES = 30_000  # uncompressed; about a fifth of that on the wire


@pytest.mark.sqlite
def test_the_pages_own_css_and_js_stay_small():
    sizes = {name: (BASE_DIR / name).stat().st_size for name in OWN_ASSETS}
    assert sum(sizes.values()) <= BUDGET_BYTES, sizes


def test_collectstatic_writes_hashed_compressed_files(tmp_path):
    env = {**os.environ, "STATIC_MANIFEST": "1", "STATIC_ROOT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hashed = sorted(p.name for p in (tmp_path / "css").glob("app.*.css"))
    assert hashed, list((tmp_path / "css").iterdir())
    assert (tmp_path / "css" / f"{hashed[0]}.gz").exists()
    assert list((tmp_path / "js").glob("app.*.js.gz"))


@pytest.mark.sqlite
def test_the_stylesheet_closes_every_block_it_opens():
    """A rule that lost its closing brace swallows every rule after it, silently."""
    depth = 0
    css = (BASE_DIR / "static/css/app.css").read_text()
    for number, line in enumerate(css.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number} closes a block that was never opened"
        if line.startswith("/* ---"):
            assert depth == 0, f"section at line {number} starts inside an open block"
    assert depth == 0
