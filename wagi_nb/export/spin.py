"""Spin manifest v2 for Wagi modules (spec section 8), and a check of the rules we rely on."""
from __future__ import annotations

import re

import tomli_w

#: Spin component ids: kebab-case words, each starting with a letter (`api-v2`, not `api-2`).
COMPONENT_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")
APP_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
OUTBOUND_HOST = re.compile(r"^[a-z*][a-z0-9+.*-]*://[^/\s]+$")


def component_id(text: str, taken=()) -> str:
    """A valid, unused component id made from a module name or route."""
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    merged: list = []
    for word in words:
        if word[0].isdigit() and merged:
            merged[-1] += word  # `api-2` is invalid: `api2`
        else:
            merged.append(word if word[0].isalpha() else f"r{word}")
    base = "-".join(merged) or "root"
    candidate, suffix = base, 0
    while candidate in taken:
        suffix += 1
        candidate = f"{base}-{_letters(suffix)}"
    return candidate


def _letters(number: int) -> str:
    text = ""
    while number:
        number, rest = divmod(number - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def outbound_host(host: str) -> str:
    """Wagi's allowed_hosts entry (host compared, scheme and port ignored) in Spin's form. A URL keeps
    its scheme and a port it names; without one it allows any port, as under Wagi (Spin reads
    `http://127.0.0.1` as port 80 only: measured with Spin 3.6.3, tutorial 4's /relay)."""
    if host == "insecure:allow-all":
        return "*://*:*"
    if "://" in host:
        scheme, _, rest = host.partition("://")
        authority = rest.split("/", 1)[0]  # a URL's path (even a lone `/`) is not part of a host
        return f"{scheme}://{authority}" + ("" if PORT.search(authority) else ":*")
    return f"*://{host}" + ("" if ":" in host else ":*")


#: The port of an authority (``host:81``, ``[::1]:81``, ``host:*``; ``[::1]`` has none).
PORT = re.compile(r":(\d+|\*)$")


def manifest_text(name: str, components: list) -> str:
    """``components``: dicts with id, route, source, executor (None for a wasi:http component), files,
    environment, hosts, build."""
    manifest: dict = {
        "spin_manifest_version": 2,
        "application": {"name": name, "version": "0.1.0",
                        "description": "Exported from a notebook by wagi_nb"},
        # (no executor: a wasi:http component, as ``export --component`` writes them)
        "trigger": {"http": [{"route": c["route"], "component": c["id"],
                              **({"executor": c["executor"]} if c["executor"] else {})}
                             for c in components]},
        "component": {},
    }
    for c in components:
        component: dict = {"source": c["source"]}
        if c["files"]:
            component["files"] = c["files"]
        if c["environment"]:
            component["environment"] = c["environment"]
        component["allowed_outbound_hosts"] = c["hosts"]
        if c.get("build"):
            component["build"] = {"command": c["build"], "watch": c["watch"]}
            if c.get("workdir"):
                component["build"]["workdir"] = c["workdir"]
        manifest["component"][c["id"]] = component
    return tomli_w.dumps(manifest)


def check_manifest(data: dict) -> list:
    """Problems with a parsed spin.toml against the manifest v2 rules an export relies on."""
    problems = []
    if data.get("spin_manifest_version") != 2:
        problems.append("spin_manifest_version must be 2")
    application = data.get("application")
    if not isinstance(application, dict) or not isinstance(application.get("name"), str):
        problems.append("[application] needs a string `name`")
    elif not APP_NAME.match(application["name"]):
        problems.append(f"application name {application['name']!r} may only use letters, digits, - and _")
    components = data.get("component", {})
    if not isinstance(components, dict) or not components:
        problems.append("no [component.<id>] tables")
        components = {}
    for cid, component in components.items():
        where = f"[component.{cid}]"
        if not COMPONENT_ID.match(cid):
            problems.append(f"{where}: id must be kebab-case words each starting with a letter")
        if not isinstance(component, dict):
            problems.append(f"{where}: must be a table")
            continue
        if not isinstance(component.get("source"), str):
            problems.append(f"{where}: `source` must be a path string")
        files = component.get("files", [])
        if not isinstance(files, list):
            problems.append(f"{where}: `files` must be a list")
            files = []
        for entry in files:
            if isinstance(entry, dict):
                if set(entry) != {"source", "destination"} or not str(entry.get("destination", "")).startswith("/"):
                    problems.append(f"{where}: a files table needs `source` and an absolute `destination`")
            elif not isinstance(entry, str):
                problems.append(f"{where}: files entries are strings or tables")
        environment = component.get("environment", {})
        if not isinstance(environment, dict) or not all(isinstance(v, str) for v in environment.values()):
            problems.append(f"{where}: `environment` must be a table of strings")
        hosts = component.get("allowed_outbound_hosts", [])
        for host in hosts if isinstance(hosts, list) else [hosts]:
            if not isinstance(host, str) or not OUTBOUND_HOST.match(host):
                problems.append(f"{where}: outbound host {host!r} needs a scheme (scheme://host[:port])")
        build = component.get("build")
        if build is not None and not (isinstance(build, dict) and isinstance(build.get("command"), str)):
            problems.append(f"{where}.build: `command` must be a string")
        elif build is not None and not isinstance(build.get("workdir", ""), str):
            problems.append(f"{where}.build: `workdir` must be a path string")
    trigger_table = data.get("trigger", {})
    triggers = trigger_table.get("http") if isinstance(trigger_table, dict) else None
    if not isinstance(triggers, list) or not triggers:
        problems.append("no [[trigger.http]] entries")
        triggers = []
    for index, trigger in enumerate(triggers, start=1):
        where = f"[[trigger.http]] #{index}"
        if not isinstance(trigger, dict):
            problems.append(f"{where}: must be a table")
            continue
        if not isinstance(trigger.get("route"), str) or not trigger["route"].startswith("/"):
            problems.append(f"{where}: `route` must be a path starting with /")
        if not isinstance(trigger.get("component"), str) or trigger["component"] not in components:
            problems.append(f"{where}: component {trigger.get('component')!r} is not defined")
        executor = trigger.get("executor")
        if executor is None:  # a wasi:http component
            continue
        if not isinstance(executor, dict) or executor.get("type") != "wagi":
            problems.append(f"{where}: executor must be {{ type = \"wagi\" }} or absent")
        elif set(executor) - {"type", "argv", "entrypoint"}:
            problems.append(f"{where}: the wagi executor only takes type, argv and entrypoint")
    return problems
