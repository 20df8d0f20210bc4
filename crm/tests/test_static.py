"""What a phone downloads: the pages' own CSS and JavaScript stay small (htmx is the only
library), and in production static files are served compressed under hashed names."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# Budgets in gzip bytes, what the wire carries: whitenoise serves every static file
# precompressed (.gz, .br where brotli is installed), so a phone on a weak signal waits for the
# compressed size, and a comment or a long clear name costs almost nothing there.
PAGE_ASSETS = ["static/css/app.css", "static/js/app.js"]
PAGE_BUDGET_GZIP = 9_000  # what every page loads before it can be used
# Loaded once and kept by the browser (the service worker and its cache), not on every page's
# critical path: a budget of its own, so that the offline code never eats into the pages'.
OFFLINE_ASSETS = ["static/js/offline.js", "static/js/sw.js"]
OFFLINE_BUDGET_GZIP = 12_000


def gzip_sizes(names: list[str]) -> dict[str, int]:
    # Level 9, as whitenoise compresses them.
    return {name: len(gzip.compress((BASE_DIR / name).read_bytes(), 9)) for name in names}


@pytest.mark.sqlite
def test_the_pages_own_css_and_js_stay_small():
    sizes = gzip_sizes(PAGE_ASSETS)
    assert sum(sizes.values()) <= PAGE_BUDGET_GZIP, sizes


@pytest.mark.sqlite
def test_the_offline_code_stays_small():
    sizes = gzip_sizes(OFFLINE_ASSETS)
    assert sum(sizes.values()) <= OFFLINE_BUDGET_GZIP, sizes


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
