"""The secrets scan: no secret in any file the tap or target writes, whatever the flow or failure.

Every run here writes all it produces (stdout, stderr, state, catalog, rejected records) into one
folder; every file in it is then searched for the client secret, the on-premises password, the
wrong secrets given, and every access, id and refresh token the emulator issued during the runs
(caught in-process at its token endpoint), as well as for anything shaped like a JWT. The configs
and the msal token cache hold secrets by design and live in another folder.

tests/api/test_api_secrets.py checks the same for the shared client's logs, errors and reprs.
The suite (test_rel_held_secrets.py) runs this once; ``benchmarks/soak.py`` with more fault seeds.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from typing import TYPE_CHECKING, Any

from api.test_api_emulator_auth import sign_in_user
from rel_support import Outcome, arm_faults, catalog_for, mixed_faults
from tap.tap_runner import TAP, tap_config
from tap.tap_runner import _env as cli_env
from target.target_runner import TARGET, encode, messages_for, target_config

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from conftest import RunningEmulator

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
WRONG_SECRET = "Wr0ng~Secret.value-1234567890"  # noqa: S105 - a wrong one, on purpose
WRONG_PASSWORD = "not-the-access-key-0987"  # noqa: S105 - a wrong one, on purpose
# Short enough to expire within a run, long enough that a loaded machine delivers a request before
# its token expires in transit (which would be refused twice, and rightly fail the run).
SHORT_LIFETIME = 3
WRONG_REFRESH = "0.AAAA-wrong-refresh-token-" + "x" * 40


@contextlib.contextmanager
def issued_tokens(bc: RunningEmulator) -> Iterator[list[str]]:
    """Every token the emulator's token endpoint hands out meanwhile (caught in-process)."""
    tokens: list[str] = []
    service = bc.emulator.entra
    original: Callable[..., dict[str, Any]] = service.token

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(*args, **kwargs)
        tokens.extend(
            str(answer[name])
            for name in ("access_token", "refresh_token", "id_token")
            if answer.get(name)
        )
        return answer

    service.token = recording  # type: ignore[method-assign]
    try:
        yield tokens
    finally:
        del service.token
        bc.hook("DELETE", "faults")
        bc.hook("POST", "config", {"token_lifetime": 3599})


class Outputs:
    """Runs the CLIs with every output going to files in one folder."""

    def __init__(self, root: Path) -> None:
        self.out = root / "out"
        self.configs = root / "configs"
        self.out.mkdir()
        self.configs.mkdir()
        self.runs = 0

    def config(self, name: str, config: dict[str, Any]) -> Path:
        path = self.configs / f"{name}.json"
        path.write_text(json.dumps(config))
        return path

    def run(self, name: str, command: list[str], stdin: str = "") -> int:
        self.runs += 1
        with (
            (self.out / f"{name}.stdout").open("w") as out,
            (self.out / f"{name}.stderr").open("w") as err,
        ):
            done = subprocess.run(
                command,
                input=stdin,
                stdout=out,
                stderr=err,
                text=True,
                timeout=180,
                check=False,
                env=cli_env(),
            )
        return done.returncode

    def passes(self, name: str, command: list[str], stdin: str = "") -> None:
        """Run; a failure stops the scenario, saying what failed and how."""
        if self.run(name, command, stdin) != 0:
            msg = f"{name} failed: {self.tail(name)}"
            raise AssertionError(msg)

    def fails(self, name: str, command: list[str], stdin: str = "") -> None:
        """Run a flow that must be refused (a wrong secret): it must not succeed."""
        if self.run(name, command, stdin) == 0:
            msg = f"{name} succeeded but should have been refused: {self.tail(name)}"
            raise AssertionError(msg)

    def tail(self, name: str) -> str:
        return " | ".join((self.out / f"{name}.stderr").read_text().splitlines()[-3:])

    def last_state(self, name: str) -> Path:
        """The last STATE a tap run wrote, as a state file (a resumed run reads it)."""
        lines = (self.out / f"{name}.stdout").read_text().splitlines()
        states = [json.loads(line)["value"] for line in lines if '"type":"STATE"' in line]
        path = self.out / f"{name}.state.json"
        path.write_text(json.dumps(states[-1]))
        return path


def run_tap_flows(bc: RunningEmulator, outputs: Outputs, outcome: Outcome) -> None:
    """A run under faults and token expiry, a resumed run, on-premises discovery, refusals."""
    config = tap_config(bc.info, page_size=100, max_concurrency=2)
    good = outputs.config("tap", config)
    catalog = outputs.out / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, ["customers", "generalLedgerEntries"])))
    bc.hook("POST", "config", {"token_lifetime": SHORT_LIFETIME})
    arm_faults(bc, mixed_faults(0.15), outcome.seed)
    expired = {"kind": "token_expired", "count": 1, "path_contains": "/api/"}
    bc.hook("POST", "faults", {"faults": [{**expired, "skip": 3}, {**expired, "skip": 12}]})
    command = [*TAP, "--config", str(good), "--catalog", str(catalog)]
    outputs.passes("tap-faults", command)
    outcome.add_faults(bc.counters())
    bc.hook("DELETE", "faults")
    bc.hook("POST", "config", {"token_lifetime": 3599})
    state = outputs.last_state("tap-faults")
    outputs.passes("tap-resumed", [*command, "--state", str(state)])

    wrong = outputs.config("tap-wrong", {**config, "client_secret": WRONG_SECRET})
    outputs.fails("tap-wrong-secret", [*TAP, "--config", str(wrong), "--catalog", str(catalog)])
    onprem = {
        "auth_type": "basic",
        "base_url": bc.info["onprem_base_url"],
        "username": bc.info["onprem_username"],
        "password": bc.info["onprem_password"],
        "ca_bundle": bc.info["ca_bundle"],
    }
    basic = outputs.config("tap-basic", onprem)
    outputs.passes("tap-basic", [*TAP, "--config", str(basic), "--discover"])
    bad = outputs.config("tap-basic-wrong", {**onprem, "password": WRONG_PASSWORD})
    outputs.fails("tap-basic-wrong", [*TAP, "--config", str(bad), "--discover"])


def run_refresh_token_flows(bc: RunningEmulator, outputs: Outputs) -> None:
    """A user's sign-in, a run on the rotating refresh token, and a refused refresh token."""
    cache = outputs.configs / "token-cache.json"
    # Short-lived from the sign-in on: msal must use (and rotate) the refresh token.
    bc.hook("POST", "config", {"token_lifetime": SHORT_LIFETIME})
    sign_in_user(bc, cache)
    config = tap_config(
        bc.info,
        auth_type="refresh_token",
        client_id=bc.info["public_client_id"],
        client_secret=None,
        token_cache_path=str(cache),
    )
    user = outputs.config("tap-user", config)
    outputs.passes("tap-user", [*TAP, "--config", str(user), "--discover"])
    bc.hook("POST", "config", {"token_lifetime": 3599})
    refused = {**config, "refresh_token": WRONG_REFRESH}
    refused["token_cache_path"] = str(outputs.configs / "empty-cache.json")
    bad = outputs.config("tap-user-wrong", refused)
    outputs.fails("tap-user-wrong", [*TAP, "--config", str(bad), "--discover"])


def run_target_flows(bc: RunningEmulator, outputs: Outputs, outcome: Outcome) -> None:
    """Writes under faults with rejected records, and a refused sign-in."""
    company = bc.companies[0]["id"]
    records = [
        {"number": f"S-{i:03d}", "displayName": f"Secret scan {i}", "companyId": company}
        for i in range(150)
    ]
    records += [
        {"number": "S-BAD-1", "displayName": "x" * 500, "companyId": company},
        {"number": "S-BAD-2", "displayName": "Bad", "creditLimit": "lots", "companyId": company},
    ]
    messages = messages_for({"customers": records})
    messages.append({"type": "STATE", "value": {"written": len(records)}})
    stdin = encode(messages)
    config = target_config(bc.info, outputs.out, max_rejections=10)
    good = outputs.config("target", config)
    bc.hook("POST", "config", {"token_lifetime": SHORT_LIFETIME})
    arm_faults(bc, mixed_faults(0.15), outcome.seed + 1)
    outputs.passes("target-faults", [*TARGET, "--config", str(good)], stdin)
    outcome.add_faults(bc.counters())
    bc.hook("DELETE", "faults")
    bc.hook("POST", "config", {"token_lifetime": 3599})
    assert (outputs.out / "rejected.jsonl").read_text().count("\n") == 2
    wrong = outputs.config("target-wrong", {**config, "client_secret": WRONG_SECRET})
    outputs.fails("target-wrong-secret", [*TARGET, "--config", str(wrong)], stdin)


def secrets_scan(bc: RunningEmulator, tmp: Path, *, seed: int) -> Outcome:
    """Run every flow, then search every output file for every secret and token."""
    outcome = Outcome("secrets in output files", seed)
    outputs = Outputs(tmp)
    with issued_tokens(bc) as issued:
        run_tap_flows(bc, outputs, outcome)
        run_refresh_token_flows(bc, outputs)
        run_target_flows(bc, outputs, outcome)
    secrets = {
        "client secret": bc.info["client_secret"],
        "on-premises password": bc.info["onprem_password"],
        "wrong secret": WRONG_SECRET,
        "wrong password": WRONG_PASSWORD,
        "wrong refresh token": WRONG_REFRESH,
    }
    for number, token in enumerate(issued):
        secrets[f"issued token {number}"] = token
        secrets[f"issued token {number} (start)"] = token[:32]
    files = sorted(path for path in outputs.out.rglob("*") if path.is_file())
    for path in files:
        text = path.read_text(errors="replace")
        outcome.mismatches += [
            f"{path.name}: {name}" for name, value in secrets.items() if value in text
        ]
        outcome.mismatches += [f"{path.name}: a JWT" for _ in JWT.finditer(text)]
        outcome.rows += text.count("\n")
    outcome.runs = outputs.runs
    outcome.numbers.update(
        files=len(files),
        tokens=len(issued),
        opaque_tokens=sum(token.count(".") != 2 for token in issued),
    )
    return outcome
