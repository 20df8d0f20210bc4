"""Benchmark harness: `make bench`, or `.venv/bin/python bench/run.py [--only NAME] [--requests N]`.

Starts throwaway PostgreSQL and Redis servers, configures the app as in production (DEBUG off,
a random SECRET_KEY), migrates, lets each scenario load its data in-process, serves the app with
gunicorn (two sync workers) on a free loopback port, runs the scenarios, writes
bench/results/<scenario>.json and prints one line per scenario. Everything it started is stopped
on the way out, including after a failure or Ctrl-C.
"""

import argparse
import contextlib
import importlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    RESULTS_DIR,
    Context,
    machine_info,
    missing_programs,
    write_result,
)
from bench.scenarios import SCENARIOS  # noqa: E402
from bench.servers import DEFAULT_WSGI_APP, GUNICORN_WORKERS, gunicorn  # noqa: E402

DATABASE_NAME = "crm_bench"


def production_environment(*, database_url: str, redis_base: str) -> dict[str, str]:
    """Settings as a production deployment would have them, on plain HTTP over loopback."""
    return {
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_MANIFEST": "0",
        "API_THROTTLE_USER": "1000000/min",
        "DATABASE_URL": database_url,
        # Cache and broker in separate Redis databases, as in the test setup.
        "REDIS_URL": f"{redis_base}/0",
        "CELERY_BROKER_URL": f"{redis_base}/1",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(sorted(SCENARIOS))}",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        metavar="N",
        help="measured requests per series, instead of each scenario's default",
    )
    parser.add_argument(
        "--wsgi-app",
        default=DEFAULT_WSGI_APP,
        metavar="MODULE:NAME",
        help="serve this WSGI application instead, to try a change without editing the tree; "
        "the module is also imported by the harness, so in-process query counts see it too",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        metavar="DIR",
        help="where the JSON files go (bench/results)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--soak-seconds",
        type=int,
        default=None,
        metavar="N",
        help="how long the soak runs (600; also BENCH_SOAK_SECONDS)",
    )
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.soak_seconds is not None and args.soak_seconds < 30:
        parser.error("--soak-seconds must be at least 30 (a warm-up, a kill, a restart)")
    return args


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _programs_ready(selected) -> bool:
    """Before anything starts: the programs the chosen scenarios run are there, installed from
    Debian's archive when run as root (as CI installs the test suite's), or named."""
    missing = missing_programs(selected)
    if not missing:
        return True
    packages = sorted(set(missing.values()))
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing: {' '.join(packages)}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True, env=env,
        )  # fmt: skip
        return not missing_programs(selected)
    needing = sorted(s.name for s in selected if set(s.needs) & set(missing))
    print(
        f"Missing programs: {', '.join(sorted(missing))} (needed by {', '.join(needing)}).\n"
        f"Install them (as root: apt-get install {' '.join(packages)}), or run the other "
        "scenarios with --only.",
        file=sys.stderr,
    )
    return False


def run(args: argparse.Namespace) -> int:
    from crm.testing.servers import PostgresServer, RedisServer, free_port

    selected = [SCENARIOS[name] for name in (args.only or SCENARIOS)]
    if args.soak_seconds is not None:
        os.environ["BENCH_SOAK_SECONDS"] = str(args.soak_seconds)
    if not _programs_ready(selected):
        return 2
    # Both stop the run through the same clean-up, even when started in the background (where
    # SIGINT is inherited as ignored).
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    work_dir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    all_met, failed = True, False
    with contextlib.ExitStack() as stack:
        stack.callback(_remove, work_dir)
        print("Starting PostgreSQL and Redis...", flush=True)
        # Stops registered before the starts, so that an interrupted start is cleaned up too.
        postgres, redis = PostgresServer(), RedisServer()
        stack.callback(postgres.stop)
        stack.callback(redis.stop)
        postgres.start()
        redis.start()
        postgres.create_database(DATABASE_NAME)
        env = production_environment(
            database_url=postgres.url(DATABASE_NAME), redis_base=redis.url(0).rsplit("/", 1)[0]
        )
        os.environ.update(env)

        # No collectstatic for a benchmark: WhiteNoise serves from the finders and says so.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        import django
        from django.core.management import call_command
        from django.db import connection, connections

        django.setup()
        if args.wsgi_app != DEFAULT_WSGI_APP:
            importlib.import_module(args.wsgi_app.partition(":")[0])
        print("Migrating...", flush=True)
        call_command("migrate", verbosity=0)
        port = free_port()
        ctx = Context(
            host="127.0.0.1",
            port=port,
            database_url=postgres.url(DATABASE_NAME),
            requests=args.requests,
        )
        for scenario in selected:
            print(f"Preparing {scenario.name}...", flush=True)
            scenario.prepare(ctx)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
        connections.close_all()
        environment = {
            "postgresql": server_version,
            "gunicorn_workers": GUNICORN_WORKERS,
            "requests_override": args.requests,
            "wsgi_app": args.wsgi_app,
        }
        print(f"Serving with gunicorn ({GUNICORN_WORKERS} workers) on port {port}...", flush=True)
        stack.enter_context(gunicorn(env, port, work_dir / "gunicorn.log", args.wsgi_app))
        summaries = []
        for scenario in selected:
            print(f"Measuring {scenario.name}...", flush=True)
            try:
                outcome = scenario.measure(ctx)
            except Exception as exc:  # report it and go on with the other scenarios
                traceback.print_exc()
                failed = True
                summaries.append(f"{scenario.name}: FAILED: {type(exc).__name__}: {exc}")
                continue
            path = write_result(
                scenario, outcome, environment=environment, results_dir=args.results_dir
            )
            all_met &= outcome.targets_met
            summaries.append(f"{outcome.summary}  [{_shown(path)}]")
        connections.close_all()

    machine = machine_info()
    print(
        f"\nResults ({machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"PostgreSQL {server_version}):"
    )
    for line in summaries:
        print(line)
    if failed:
        return 1
    return 1 if args.strict and not all_met else 0


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\nInterrupted: servers stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
