"""What the parsers must never do, as hypothesis properties: used by the test suite (a few hundred
inputs per run) and by ``scripts/fuzz.py`` (100,000 and more).

* CGI output → response → the bytes the server writes: never an exception; the status line is
  three ASCII digits; each header the module printed validly reaches the wire byte for byte;
  nothing with a control character does.
* ``modules.toml`` text → entries: never anything but a :class:`ConfigError`, whose message
  names what is wrong.
* env file text → variables: never an exception; every line sets what an independent reading of
  env-file-reader 0.2's rule says, or is a blank line, a comment or a skipped line with a one-line
  reason; ``NAME=VALUE`` lines as the export writes them read back as written.
"""
from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import tomli_w
from hypothesis import strategies as st

from wagi_nb.envvars import parse_env_text
from wagi_nb.server.http import wire_bytes, wire_headers
from wagi_nb.wagi.config import ConfigError, parse_config
from wagi_nb.wagi.response import parse_cgi_output

TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALID_VALUE = re.compile(rb"^[^\x00-\x08\x0a-\x1f\x7f]*$")

# -- CGI output ---------------------------------------------------------------------------------------
names = st.one_of(st.sampled_from(["Content-Type", "Location", "Status", "Set-Cookie", "X-Euro",
                                   "content-type", "STATUS", "Cache-Control"]).map(str.encode),
                  st.text(TOKEN, min_size=1, max_size=12).map(str.encode),
                  st.binary(max_size=8))
values = st.one_of(st.sampled_from(["text/plain", "€", "/café", "²00", "200 OK", "404", "1e2",
                                    "٣٠٠", "301 Moved", " padded ", "a\tb"]).map(str.encode),
                   st.binary(max_size=24),
                   st.text(max_size=16).map(lambda t: t.encode("utf-8", "surrogatepass")))
line_end = st.sampled_from([b"\n", b"\r\n", b"\r\r\n"])


@st.composite
def cgi_outputs(draw) -> bytes:
    """Header blocks that look like what modules print, and some that do not look like anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        separator = draw(st.sampled_from([b": ", b":", b" : ", b"", b":\t"]))
        lines.append(draw(names) + separator + draw(values) + draw(line_end))
    blank = draw(st.sampled_from([b"\n", b"\r\n", b"", b"\n\r\n"]))
    return b"".join(lines) + blank + draw(st.binary(max_size=64))


def check_cgi_output(stdout: bytes) -> None:
    response = parse_cgi_output(stdout)
    assert 100 <= response.status <= 599
    for method in ("GET", "HEAD"):
        headers = wire_headers(response, method)
        wire = wire_bytes(response.status, response.reason or "Unknown", headers, response.body)
        head = wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert re.fullmatch(rb"HTTP/1\.1 [1-5][0-9]{2} [ -~]*", head[0]), head[0]
        for line in head[1:]:
            name, _, value = line.partition(b": ")
            assert re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name), line
            assert _VALID_VALUE.match(value), line
    # Every header line the module printed validly is on the wire as it printed it (names are
    # case-insensitive; their case is the server's to choose); of a repeated singleton header
    # (Content-Type, Location), the last.
    printed = _valid_printed_headers(stdout)
    if response.error == "" and printed is not None:
        wire = wire_bytes(response.status, "x", wire_headers(response, "GET"), b"")
        sent = [(n.lower(), v) for n, _, v in (line.partition(b": ")
                                               for line in wire.split(b"\r\n\r\n")[0].split(b"\r\n")[1:])]
        last = dict(printed_lower(printed))
        for name, value in printed:
            lower = name.lower()
            if lower in (b"content-type", b"location"):
                assert (lower, value) not in sent or value == last[lower], (name, sent)
                if value != last[lower]:
                    continue
            if lower not in (b"status", b"content-length", b"transfer-encoding", b"connection", b"keep-alive"):
                assert (lower, value) in sent, (name, value, sent)
        for singleton in (b"content-type", b"location"):
            assert [n for n, _ in sent].count(singleton) <= 1, sent


def printed_lower(printed) -> list:
    """(lower-case name, value) of the last of each name."""
    last: dict = {}
    for name, value in printed:
        last[name.lower()] = value
    return list(last.items())


def _valid_printed_headers(stdout: bytes):
    """The (name, value) pairs of a header block, as bytes, when every line of it is valid."""
    head, sep, _ = stdout.replace(b"\r", b"").partition(b"\n\n")
    if not sep:
        return None
    pairs = []
    for line in head.split(b"\n"):
        name, colon, value = line.partition(b":")
        if not colon or not re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
            return None
        value = value.strip(b" \t")
        if not _VALID_VALUE.match(value):
            return None
        pairs.append((name, value))
    return pairs


# -- modules.toml -------------------------------------------------------------------------------------
KEYS = ["route", "module", "entrypoint", "volumes", "argv", "allowed_hosts", "http_max_concurrency",
        "read_only_volumes", "bogus"]
scalars = st.one_of(st.text(max_size=20), st.integers(-5, 2**40), st.booleans(),
                    st.floats(allow_nan=False), st.sampled_from(["/", "/x/...", "hello.wasm",
                                                                 "file:///nope", "oci:x", "\x00"]))
tomlish = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


@st.composite
def modules_tomls(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:  # nesting far past anything the format needs
        depth = draw(st.integers(1, 2000))
        return "module = " + "[" * depth + "]" * depth
    entry = st.dictionaries(st.sampled_from(KEYS), tomlish, max_size=6)
    document = {"module": draw(st.one_of(st.lists(entry, max_size=3), tomlish))}
    if draw(st.booleans()):
        document["route"] = draw(tomlish)
    try:
        return tomli_w.dumps(document)
    except (TypeError, ValueError):
        return "module = 1"


def check_modules_toml(text: str, folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parse_config(text, folder)
        except ConfigError as error:
            message = str(error)
            assert message and "Traceback" not in message
            assert len(message) < 2000, message


def config_folder() -> Path:
    """A folder with a module and a volume, so that some generated files are valid."""
    folder = Path(tempfile.mkdtemp(prefix="wagi-nb-fuzz-"))
    (folder / "hello.wasm").write_bytes(b"\0asm\1\0\0\0")
    (folder / "x").mkdir()
    return folder


# -- env files ----------------------------------------------------------------------------------------
NAME_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
env_names = st.one_of(st.text(NAME_CHARS, min_size=1, max_size=10),
                      st.sampled_from(["export", "X.Y", "A B", "é", "\ufeffA", " A", ""]))
env_values = st.one_of(st.text(max_size=16).filter(lambda v: "\n" not in v),
                       st.sampled_from(['"quoted"', "'single'", '"', '""', '"""', 'a"b', "a=b", " padded ",
                                        "\\n", "# not a comment", "\x00", "tab\there", "end\r"]))


@st.composite
def env_files(draw) -> str:
    """Env files as people write them (export, quotes, comments, spaces around `=`, CRLF, a BOM)
    and some text that is nothing like one."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        prefix = draw(st.sampled_from(["", "", "export ", "export  ", "  ", "#", "# "]))
        separator = draw(st.sampled_from(["=", "=", " = ", "= ", " =", ""]))
        lines.append(prefix + draw(env_names) + separator + draw(env_values))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return ending.join(lines) + draw(st.sampled_from(["", ending]))


def expected_env_line(line: str):
    """env-file-reader 0.2's ``^(export )?(?P<key>[0-9A-Za-z_\\-]+)="?(?P<val>[^"]*)"?$``, by hand:
    (name, value), or None when the line does not match."""
    for body in ([line[len("export "):]] if line.startswith("export ") else []) + [line]:
        name, equals, value = body.partition("=")
        if not equals or not name or any(c not in NAME_CHARS for c in name):
            continue
        value = value[1:] if value.startswith('"') else value
        value = value[:-1] if value.endswith('"') else value
        if '"' not in value:
            return name, value
    return None


def check_env_text(text: str) -> None:
    values, skipped = parse_env_text(text)
    parts = text.split("\n")  # as Rust's str::lines: a \r before a \n is dropped
    lines = [part[:-1] if part.endswith("\r") else part for part in parts[:-1]] + [parts[-1]] * bool(parts[-1])
    expected: dict = {}
    unread = set()
    for number, line in enumerate(lines, start=1):
        found = expected_env_line(line)
        if found and "\x00" not in line:
            expected[found[0]] = found[1]
        elif line.strip() and not line.lstrip().startswith("#"):
            unread.add(number)
    assert values == expected, (values, expected)
    assert [line.number for line in skipped] == sorted(unread), (skipped, unread)
    for line in skipped:
        assert line.text == lines[line.number - 1], line
        assert line.reason and "\n" not in line.reason and len(line.reason) < 300, line


def check_env_round_trip(variables: dict) -> None:
    """What the export writes to app.env (``NAME=VALUE`` lines) reads back as written."""
    text = "".join(f"{name}={value}\n" for name, value in variables.items())
    assert parse_env_text(text) == (variables, [])


env_round_trips = st.dictionaries(st.text(NAME_CHARS, min_size=1, max_size=10),
                                  st.text(max_size=16).filter(lambda v: not set(v) & set('"\n\r\x00')),
                                  max_size=6)
