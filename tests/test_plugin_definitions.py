"""meltano.yml and the Meltano Hub definitions say what the plugins' --about says.

scripts/plugin_definitions.py derives both from `--about --format=json`; these tests run its
check (drift fails), and check by hand the facts a user depends on: every setting declared with
its kind and secrecy, capabilities equal, environment variables of object settings parsed as
objects by Meltano, and `bc-login` reachable as a plugin command. (tests/test_readme.py keeps
the README's tables equal to the same `--about`.)
"""

from __future__ import annotations

import importlib.util
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from tests_support import REPO, meltano_env, meltano_project

if TYPE_CHECKING:
    from types import ModuleType

BIN = Path(sys.executable).parent
PLUGINS = ("tap-businesscentral", "target-businesscentral")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "plugin_definitions", REPO / "scripts" / "plugin_definitions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture(scope="module")
def abouts() -> dict[str, dict[str, Any]]:
    return {plugin.name: generator.about(plugin) for plugin in generator.PLUGINS}


@pytest.fixture(scope="module")
def project_file() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "meltano.yml").read_text())
    return document


def _block(project_file: dict[str, Any], name: str) -> dict[str, Any]:
    kind = "extractors" if name.startswith("tap-") else "loaders"
    (block,) = [p for p in project_file["plugins"][kind] if p["name"] == name]
    return block


def _leaf_names(properties: dict[str, Any]) -> set[str]:
    """Setting names: the SDK's batch_config and faker_config by their leaves, as on the Hub."""

    def leaves(prefix: str, schema: dict[str, Any]) -> set[str]:
        children = schema.get("properties")
        if not children:
            return {prefix}
        return set().union(*(leaves(f"{prefix}.{k}", v) for k, v in children.items()))

    return set().union(
        *(
            leaves(name, schema) if name in {"batch_config", "faker_config"} else {name}
            for name, schema in properties.items()
        )
    )


def test_meltano_yml_and_hub_files_are_what_the_generator_derives_from_about() -> None:
    assert generator.drift() == []


def test_the_check_fails_when_meltano_yml_lacks_a_setting(abouts) -> None:
    plugin = generator.PLUGINS[0]
    text = (REPO / "meltano.yml").read_text()
    document = yaml.safe_load(text)
    block = next(p for p in document["plugins"]["extractors"] if p["name"] == plugin.name)
    block["settings"] = [s for s in block["settings"] if s["name"] != "page_size"]
    edited = generator.rewrite(text, plugin, block)
    assert generator.project_block(edited, plugin) != generator.expected_block(
        edited, plugin, abouts[plugin.name]
    )
    assert generator.project_block(text, plugin) == generator.expected_block(
        text, plugin, abouts[plugin.name]
    )


@pytest.mark.parametrize("name", PLUGINS)
def test_every_setting_declared_with_its_kind_secrecy_and_default(name, abouts, project_file):
    properties = abouts[name]["settings"]["properties"]
    settings = {s["name"]: s for s in _block(project_file, name)["settings"]}
    assert set(settings) == _leaf_names(properties)
    assert {n for n, s in settings.items() if s.get("sensitive")} == {
        n for n, p in properties.items() if p.get("secret")
    }
    for setting_name in ("stream_maps", "stream_map_config"):
        assert settings[setting_name]["kind"] == "object"
    assert settings["max_concurrency"] == {
        "name": "max_concurrency",
        "label": "Max Concurrency",
        "kind": "integer",
        "description": properties["max_concurrency"]["description"],
        "value": 5,
    }
    assert settings["auth_type"]["kind"] == "options"
    assert [o["value"] for o in settings["auth_type"]["options"]] == properties["auth_type"]["enum"]
    assert all(s["description"] and s["label"] for s in settings.values())


@pytest.mark.parametrize("name", PLUGINS)
def test_capabilities_are_those_of_about(name, abouts, project_file):
    assert _block(project_file, name)["capabilities"] == abouts[name]["capabilities"]
    hub = yaml.safe_load((REPO / "hub" / f"{_kind(name)}" / f"{name}.yml").read_text())
    assert hub["capabilities"] == abouts[name]["capabilities"]


def _kind(name: str) -> str:
    return "extractors" if name.startswith("tap-") else "loaders"


@pytest.mark.parametrize("name", PLUGINS)
def test_hub_definition_installs_the_distribution_not_the_taken_pypi_name(name):
    hub = yaml.safe_load((REPO / "hub" / _kind(name) / f"{name}.yml").read_text())
    assert hub["name"] == name
    assert hub["variant"]
    assert hub["namespace"] == name.replace("-", "_")
    assert hub["pip_url"] == name.replace("-", "-dynamics-", 1)
    assert hub["settings_group_validation"]


def test_project_file_needs_no_version_key_and_names_the_meltano_it_needs(project_file):
    assert "version" not in project_file
    installed = subprocess.run(
        [str(BIN / "meltano"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    assert installed in SpecifierSet(project_file["requires_meltano"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return meltano_project(tmp_path, PLUGINS)


def _meltano(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_environment_variables_of_object_settings_reach_the_tap_as_objects(project):
    maps = {"customers": {"email": "__NULL__"}}
    env = meltano_env(
        TAP_BUSINESSCENTRAL_STREAM_MAPS=json.dumps(maps),
        TAP_BUSINESSCENTRAL_STREAM_MAP_CONFIG='{"salt": "x"}',
        TAP_BUSINESSCENTRAL_BATCH_CONFIG_ENCODING_FORMAT="jsonl",
        TAP_BUSINESSCENTRAL_MAX_CONCURRENCY="3",
        TAP_BUSINESSCENTRAL_COMPANY_IDS='["CRONUS USA, Inc."]',
        TAP_BUSINESSCENTRAL_CLIENT_SECRET="not-shown",  # noqa: S106 - a stand-in secret
    )
    done = _meltano(project, env, "config", "print", "tap-businesscentral")
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    assert config["stream_maps"] == maps
    assert config["stream_map_config"] == {"salt": "x"}
    assert config["batch_config"] == {"encoding": {"format": "jsonl"}}
    assert config["max_concurrency"] == 3
    assert config["company_ids"] == ["CRONUS USA, Inc."]
    assert "not-shown" not in done.stdout  # sensitive: masked unless --unsafe


@pytest.mark.slow  # the device flow polls every 5 s, as Entra advertises
def test_bc_login_runs_as_the_tap_plugin_command(project, emulator, tmp_path):
    info = emulator.info
    cache = tmp_path / "token-cache.json"
    env = meltano_env(
        TAP_BUSINESSCENTRAL_TENANT_ID=info["tenant_id"],
        TAP_BUSINESSCENTRAL_CLIENT_ID=info["public_client_id"],
        TAP_BUSINESSCENTRAL_AUTHORITY_URL=info["authority_url"],
        TAP_BUSINESSCENTRAL_TOKEN_CACHE_PATH=str(cache),
    )
    args = ("invoke", "tap-businesscentral:login", "--ca-bundle", info["ca_bundle"])
    done = _meltano(project, env, *args, "--device-code")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert "RefreshToken" in cache.read_text()  # the msal cache, refresh token inside


def test_a_login_setting_left_unset_is_named(project):
    env = meltano_env(TAP_BUSINESSCENTRAL_TENANT_ID="contoso.onmicrosoft.com")
    done = _meltano(project, env, "invoke", "tap-businesscentral:login", "--device-code")
    assert done.returncode != 0
    assert "TAP_BUSINESSCENTRAL_CLIENT_ID" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "path", [".env", "output/customers.jsonl", ".meltano/meltano.db", "rejected-records.jsonl"]
)
def test_secrets_and_run_output_are_ignored_by_git(path):
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--quiet", path], cwd=REPO, check=False
    )
    assert done.returncode == 0, f"{path} is not ignored"
