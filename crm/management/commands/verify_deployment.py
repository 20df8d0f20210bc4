import json

from django.core.management.base import BaseCommand

from crm.deployment import FAIL, PASS, SKIP, SYMBOLS, WARN, CheckResult, run_all


def summary(results: list[CheckResult], *, allow_warnings: bool) -> dict:
    counts = {
        status: sum(r.status == status for r in results) for status in (PASS, FAIL, WARN, SKIP)
    }
    applicable = len(results) - counts[SKIP]
    ok = counts[FAIL] == 0 and (counts[WARN] == 0 or allow_warnings)
    if counts[FAIL]:
        verdict = f"Not ready: {counts[FAIL]} check(s) failed."
    elif counts[WARN] and not allow_warnings:
        verdict = f"Not ready: {counts[WARN]} warning(s); --allow-warnings accepts them."
    elif counts[WARN]:
        verdict = f"Ready, with {counts[WARN]} warning(s)."
    else:
        verdict = "Ready."
    return {
        "passed": counts[PASS],
        "applicable": applicable,
        "failed": counts[FAIL],
        "warnings": counts[WARN],
        "skipped": counts[SKIP],
        "ok": ok,
        "verdict": verdict,
    }


class Command(BaseCommand):
    help = (
        "Verify that this installation is ready to serve: one line per check, then a verdict. "
        "Exits 0 only when every check passes (warnings too with --allow-warnings)."
    )
    requires_system_checks = []  # `check --deploy` is one of the checks, reported as a line

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-warnings", action="store_true", help="exit 0 when checks only warn"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the results as JSON"
        )

    def handle(self, *args, allow_warnings=False, as_json=False, **options):
        results = run_all()
        outcome = summary(results, allow_warnings=allow_warnings)
        if as_json:
            self._write_json(results, outcome)
        else:
            self._write_lines(results, outcome)
        if not outcome["ok"]:
            raise SystemExit(1)

    def _write_json(self, results: list[CheckResult], outcome: dict) -> None:
        body = {"checks": [result.as_dict() for result in results], **outcome}
        self.stdout.write(json.dumps(body, indent=2, ensure_ascii=False))

    def _write_lines(self, results: list[CheckResult], outcome: dict) -> None:
        style = {PASS: self.style.SUCCESS, FAIL: self.style.ERROR, WARN: self.style.WARNING}
        for result in results:
            line = f"{SYMBOLS[result.status]} {result.title}"
            if result.detail:
                line += f": {result.detail}"
            self.stdout.write(style.get(result.status, str)(line))
        self.stdout.write(f"{outcome['passed']} / {outcome['applicable']} checks passed")
        final = self.style.SUCCESS if outcome["ok"] else self.style.ERROR
        self.stdout.write(final(outcome["verdict"]))
