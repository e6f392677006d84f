"""Shared fixtures: the emulator, started in-process on a free loopback port over HTTPS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from businesscentral_emulator.server import Emulator, EmulatorConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SCOPE = "https://api.businesscentral.dynamics.com/.default"


class RunningEmulator:
    """A started emulator and the conveniences tests need to talk HTTP to it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.info: dict[str, Any] = emulator.info()
        self._session = requests.Session()
        # This machine sets REQUESTS_CA_BUNDLE, which would override Session.verify for
        # Session.request calls: trust the emulator's CA explicitly and ignore the environment.
        self._session.trust_env = False
        self._session.verify = self.info["ca_bundle"]
        self._token: str | None = None

    # -- URLs ------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.info['api_url']}{path}"

    def api_root(self, environment: str = "production", api: str = "v2.0") -> str:
        return f"{self.info['api_url']}/v2.0/{self.info['tenant_id']}/{environment}/api/{api}"

    def company_url(self, entity_set: str, company: int = 0, api: str = "v2.0") -> str:
        company_id = self.info["companies"][company]["id"]
        return f"{self.api_root(api=api)}/companies({company_id})/{entity_set}"

    @property
    def companies(self) -> list[dict[str, str]]:
        return list(self.info["companies"])

    # -- HTTP ------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = self._session.post(
                f"{self.info['authority_url']}/{self.info['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.info["client_id"],
                    "client_secret": self.info["client_secret"],
                    "scope": SCOPE,
                },
                timeout=30,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self._session.get(url, headers=headers, timeout=60, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return self._session.request(method, url, headers=headers, timeout=60, **kwargs)

    def get_all(self, url: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Every row of a collection, following nextLinks."""
        rows: list[dict[str, Any]] = []
        response = self.get(url, **kwargs)
        while True:
            response.raise_for_status()
            body = response.json()
            rows.extend(body["value"])
            if "@odata.nextLink" not in body:
                return rows
            response = self.get(body["@odata.nextLink"], headers=kwargs.get("headers", {}))

    def hook(self, method: str, name: str, body: Any = None) -> requests.Response:
        response = self._session.request(
            method, self.url(f"/_emulator/{name}"), json=body, timeout=120
        )
        response.raise_for_status()
        return response

    def counters(self) -> dict[str, Any]:
        return self.hook("GET", "counters").json()

    def close(self) -> None:
        self._session.close()


@pytest.fixture(scope="session")
def start_emulator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RunningEmulator]]:
    """A factory: start an emulator with the given `EmulatorConfig` fields; all stop at the end."""
    started: list[RunningEmulator] = []

    def start(**config: Any) -> RunningEmulator:
        config.setdefault("data_dir", tmp_path_factory.mktemp("emulator"))
        running = RunningEmulator(Emulator(EmulatorConfig(**config)).start())
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()
        running.emulator.stop()


@pytest.fixture(scope="session")
def emulator(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    """The shared emulator (seed 1, scale 1). Tests that change rows reset it afterwards."""
    return start_emulator(seed=1, scale=1.0)
