"""Derive the Meltano plugin definitions of the tap and the target from their ``--about``.

One source of truth: each plugin's own ``--about --format=json`` (settings with descriptions,
types, defaults, secrets; capabilities). From it this script writes

- the ``tap-businesscentral`` extractor and ``target-businesscentral`` loader blocks of
  ``meltano.yml`` (between the ``# generated`` markers; keys the project adds there, such as
  ``select``, are kept), and
- the Meltano Hub definitions ``hub/extractors/tap-businesscentral.yml`` and
  ``hub/loaders/target-businesscentral.yml``, and
- with ``--write``, the settings tables of README.md (``--about --format=markdown``; their check is
  ``tests/test_readme.py``).

``--check`` (what ``tests/test_plugin_definitions.py`` runs) fails when any of them differs from
what the plugins say, so a setting added in code without a regeneration cannot go unnoticed.

Usage::

    uv run python scripts/plugin_definitions.py --write   # after changing a setting
    uv run python scripts/plugin_definitions.py --check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MELTANO_YML = REPO / "meltano.yml"
README = REPO / "README.md"
HUB = REPO / "hub"

# Words a label spells in capitals; every other word is capitalised.
_LABEL_WORDS = {"id": "ID", "ids": "IDs", "url": "URL", "api": "API", "apis": "APIs", "ca": "CA"}

# Keys a project may add to a generated block without it counting as drift.
PROJECT_KEYS = ("select", "config", "metadata", "schema")

# Objects whose fixed properties become one setting each (as the Hub lists the SDK's settings);
# other objects (stream_maps, stream_options, ...) are one setting of kind object.
_SPLIT_OBJECTS = ("batch_config", "faker_config")

# Each auth_type's minimal set of settings (see businesscentral_api.settings.validate_settings).
AUTH_GROUPS = (
    ("tenant_id", "client_id", "client_secret"),
    ("tenant_id", "client_id", "client_certificate_path"),
    ("tenant_id", "client_id", "refresh_token"),
    ("tenant_id", "client_id", "token_cache_path"),
    ("base_url", "username", "password"),
)

_LOGIN_ARGS = (
    "--tenant-id ${{{prefix}_TENANT_ID}} --client-id ${{{prefix}_CLIENT_ID}}"
    " --authority-url ${{{prefix}_AUTHORITY_URL}} --token-cache-path ${{{prefix}_TOKEN_CACHE_PATH}}"
)


@dataclass(frozen=True)
class Plugin:
    """What ``--about`` cannot say about a plugin: its place in Meltano and on the Hub."""

    name: str
    plugin_type: str  # extractors or loaders
    folder: str  # the package's folder in this repository
    distribution: str  # the package name on PyPI
    keywords: tuple[str, ...]

    @property
    def namespace(self) -> str:
        """Meltano's namespace: the import package's name."""
        return self.name.replace("-", "_")

    @property
    def env_prefix(self) -> str:
        """Prefix of the environment variables Meltano sets for this plugin's settings."""
        return self.namespace.upper()


PLUGINS = (
    Plugin(
        name="tap-businesscentral",
        plugin_type="extractors",
        folder="tap-businesscentral",
        distribution="tap-dynamics-businesscentral",
        keywords=("meltano_sdk", "api", "erp", "dynamics365", "businesscentral"),
    ),
    Plugin(
        name="target-businesscentral",
        plugin_type="loaders",
        folder="target-businesscentral",
        distribution="target-dynamics-businesscentral",
        keywords=("meltano_sdk", "api", "erp", "dynamics365", "businesscentral", "reverse_etl"),
    ),
)

HUB_VARIANT = "businesscentral-singer"
HUB_LABEL = "Microsoft Dynamics 365 Business Central"
HUB_DOMAIN_URL = "https://dynamics.microsoft.com/business-central/"


def _about_text(plugin: Plugin, form: str) -> str:
    """What ``<plugin> --about --format=<form>`` prints, from the executable beside this Python."""
    executable = Path(sys.executable).parent / plugin.name
    done = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [str(executable), "--about", f"--format={form}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def about_markdown(plugin: Plugin) -> str:
    """The settings table of the plugin's ``--about --format=markdown``."""
    return "\n".join(_settings_table(_about_text(plugin, "markdown").splitlines())[2])


def _settings_table(lines: list[str], after: int = 0) -> tuple[int, int, list[str]]:
    """Where the first settings table at or after line ``after`` starts and ends, and its lines."""
    start = next(i for i in range(after, len(lines)) if lines[i].startswith("| Setting |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return start, end, lines[start:end]


def write_readme_tables() -> None:
    """Replace each plugin's settings table in its README section with its ``--about``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    for plugin in PLUGINS:
        section = lines.index(f"## {plugin.name}")
        start, end, _ = _settings_table(lines, section)
        lines[start:end] = about_markdown(plugin).splitlines()
    README.write_text("\n".join(lines) + "\n", encoding="utf-8")


def about(plugin: Plugin) -> dict[str, Any]:
    """The plugin's ``--about --format=json``, from the executable beside this Python."""
    document: dict[str, Any] = json.loads(_about_text(plugin, "json"))
    return document


def label(name: str, schema: dict[str, Any]) -> str:
    """The schema's title when it has one (the SDK's settings do), else the name in words."""
    title = schema.get("title")
    if isinstance(title, str) and title:
        return title
    return " ".join(_LABEL_WORDS.get(w, w.capitalize()) for w in name.split("_"))


def _types(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    declared = schema.get("type")
    found.update([declared] if isinstance(declared, str) else declared or [])
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(option, dict):
            found |= _types(option)
    return found - {"null"}


def kind(schema: dict[str, Any]) -> str:
    """Meltano's setting kind for a JSON Schema property."""
    types = _types(schema)
    if "enum" in schema:
        return "options"
    if schema.get("format") == "date-time":
        return "date_iso8601"
    for json_type, meltano_kind in (
        ("array", "array"),
        ("object", "object"),
        ("boolean", "boolean"),
        ("integer", "integer"),
    ):
        if types == {json_type} or (json_type == "array" and json_type in types):
            return meltano_kind
    if types == {"number"}:
        return "decimal"
    return "string"


def setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One Meltano setting definition: label, kind, description, secrecy, default, options."""
    definition: dict[str, Any] = {"name": name, "label": label(name.rsplit(".", 1)[-1], schema)}
    definition["kind"] = kind(schema)
    if schema.get("description"):
        definition["description"] = schema["description"]
    if schema.get("secret"):
        definition["sensitive"] = True
    if "default" in schema and schema["default"] is not None:
        definition["value"] = schema["default"]
    if "enum" in schema:
        definition["options"] = [
            {"label": label(str(value), {}), "value": value}
            for value in schema["enum"]
            if value is not None
        ]
    return definition


def settings(config_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every setting in ``--about``'s order, the SDK's fixed objects split into their leaves."""
    found: list[dict[str, Any]] = []

    def walk(prefix: str, schema: dict[str, Any]) -> None:
        for name, child in schema.get("properties", {}).items():
            if child.get("properties"):
                walk(f"{prefix}{name}.", child)
            else:
                found.append(setting(f"{prefix}{name}", child))

    for name, schema in config_schema["properties"].items():
        if name in _SPLIT_OBJECTS:
            walk(f"{name}.", schema)
        else:
            found.append(setting(name, schema))
    return found


def meltano_block(plugin: Plugin, document: dict[str, Any]) -> dict[str, Any]:
    """The plugin's entry in ``meltano.yml``: installed from this repository's folders."""
    block: dict[str, Any] = {
        "name": plugin.name,
        "namespace": plugin.namespace,
        "label": HUB_LABEL,
        "description": document["description"].replace("``", "`"),  # docstring markup
        # Both folders: pip (Meltano's virtualenv backend) finds businesscentral-api on no index.
        "pip_url": f"-e ./businesscentral-api -e ./{plugin.folder}",
        "executable": plugin.name,
        "capabilities": list(document["capabilities"]),
        "settings_group_validation": [list(group) for group in AUTH_GROUPS],
        "settings": settings(document["settings"]),
        "commands": {
            "login": {
                "executable": "bc-login",
                "args": _LOGIN_ARGS.format(prefix=plugin.env_prefix),
                # Give it an argument (--device-code, --no-browser, ...): Meltano runs a tap's
                # discovery before a command invoked with none.
                "description": (
                    "Sign a user in for auth_type refresh_token and write the token cache at "
                    "token_cache_path. Add --device-code (no browser on this machine) or "
                    "--no-browser, and --ca-bundle PATH behind a TLS proxy."
                ),
            },
        },
    }
    return block


def hub_definition(plugin: Plugin, document: dict[str, Any]) -> dict[str, Any]:
    """The Meltano Hub definition (``_data/meltano/<type>/<name>/<variant>.yml`` on the Hub)."""
    block = meltano_block(plugin, document)
    del block["commands"]  # its args name this project's environment variables
    block.update(
        variant=HUB_VARIANT,
        pip_url=plugin.distribution,
        domain_url=HUB_DOMAIN_URL,
        keywords=list(plugin.keywords),
        maintenance_status="beta",
    )
    order = (
        "name",
        "variant",
        "namespace",
        "label",
        "description",
        "domain_url",
        "pip_url",
        "executable",
        "maintenance_status",
        "keywords",
        "capabilities",
        "settings_group_validation",
        "settings",
    )
    return {key: block[key] for key in order}


def hub_path(plugin: Plugin) -> Path:
    """Where the plugin's Hub definition lives in this repository."""
    return HUB / plugin.plugin_type / f"{plugin.name}.yml"


def dump(value: dict[str, Any] | list[dict[str, Any]]) -> str:
    """YAML as this project writes it: keys in the order given, long lines folded at 100."""
    return str(yaml.safe_dump(value, sort_keys=False, width=100, allow_unicode=True))


def _markers(plugin: Plugin) -> tuple[str, str]:
    begin = (
        f"    # {plugin.name}: generated by scripts/plugin_definitions.py from "
        f"`{plugin.name} --about`; change the code, then run it with --write."
    )
    return begin, f"    # end of generated {plugin.name}"


def project_block(text: str, plugin: Plugin) -> dict[str, Any]:
    """The plugin's entry as ``meltano.yml`` has it now."""
    document = yaml.safe_load(text)
    for entry in document["plugins"][plugin.plugin_type]:
        if entry["name"] == plugin.name:
            found: dict[str, Any] = entry
            return found
    msg = f"meltano.yml has no {plugin.plugin_type} entry named {plugin.name}"
    raise SystemExit(msg)


def expected_block(text: str, plugin: Plugin, document: dict[str, Any]) -> dict[str, Any]:
    """The generated entry plus the project's own keys (``select``, ...) of the current one."""
    block = meltano_block(plugin, document)
    current = project_block(text, plugin)
    block.update({key: current[key] for key in PROJECT_KEYS if key in current})
    return block


def rewrite(text: str, plugin: Plugin, block: dict[str, Any]) -> str:
    """``meltano.yml`` with the text between the plugin's markers replaced by ``block``."""
    begin, end = _markers(plugin)
    lines = text.splitlines()
    if begin not in lines or end not in lines:
        msg = f"meltano.yml lacks the markers around {plugin.name}:\n{begin}\n{end}"
        raise SystemExit(msg)
    start, stop = lines.index(begin), lines.index(end)
    body = ["    " + line if line else line for line in dump([block]).splitlines()]
    return "\n".join([*lines[: start + 1], *body, *lines[stop:]]) + "\n"


def drift() -> list[str]:
    """What differs from the plugins' ``--about``: one line per file and plugin."""
    text = MELTANO_YML.read_text(encoding="utf-8")
    problems: list[str] = []
    for plugin in PLUGINS:
        document = about(plugin)
        if project_block(text, plugin) != expected_block(text, plugin, document):
            problems.append(f"meltano.yml: {plugin.name} differs from its --about")
        path = hub_path(plugin)
        if not path.is_file() or yaml.safe_load(path.read_text(encoding="utf-8")) != (
            hub_definition(plugin, document)
        ):
            problems.append(f"{path.relative_to(REPO)} differs from {plugin.name} --about")
    return problems


def write() -> None:
    """Regenerate the ``meltano.yml`` blocks, the Hub definitions and the README tables."""
    text = MELTANO_YML.read_text(encoding="utf-8")
    for plugin in PLUGINS:
        document = about(plugin)
        text = rewrite(text, plugin, expected_block(text, plugin, document))
        path = hub_path(plugin)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(hub_definition(plugin, document)), encoding="utf-8")
    MELTANO_YML.write_text(text, encoding="utf-8")
    write_readme_tables()


def main(argv: list[str] | None = None) -> int:
    """``--write`` regenerates; ``--check`` exits 1 naming what drifted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the files")
    parser.add_argument("--check", action="store_true", help="fail when a file differs")
    options = parser.parse_args(argv)
    if options.write:
        write()
    problems = drift()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and options.check:
        print("Run: uv run python scripts/plugin_definitions.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
