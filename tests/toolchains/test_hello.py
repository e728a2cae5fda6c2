"""Hello, world! in every language through the Python API: build(source, language) → .run()."""
from __future__ import annotations

import shutil

import pytest

import wagi_nb

LANGUAGES = ["rust", "c", "cpp", "zig", "wat"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_hello_world(language, need_toolchain, hello_sources):
    need_toolchain(language)
    artifact = wagi_nb.build(hello_sources[language], language=language)
    assert artifact.language == language
    assert artifact.wasm[:4] == b"\0asm"
    assert artifact.size == len(artifact.wasm)
    result = artifact.run()
    assert result.stdout == b"Hello, world!\n"
    assert result.text == "Hello, world!\n"
    assert result.stderr == b""
    assert result.outcome == "ok" and result.ok
    assert result.exit_code == 0


def test_named_build_is_kept_and_runs_by_name(need_toolchain, hello_sources):
    need_toolchain("c")
    artifact = wagi_nb.build(hello_sources["c"], language="c", name="hello_c_api")
    assert wagi_nb.modules["hello_c_api"] is artifact
    assert artifact.name == "hello_c_api"
    assert wagi_nb.modules["hello_c_api"].run().text == "Hello, world!\n"


def test_run_a_wasm_file_and_a_wat_file(tmp_path, need_toolchain, hello_sources):
    need_toolchain("rust")
    built = wagi_nb.build(hello_sources["rust"], language="rust")
    wasm = tmp_path / "hello.wasm"
    shutil.copy(built.wasm_path, wasm)
    assert wagi_nb.run(str(wasm)).stdout == b"Hello, world!\n"
    wat = tmp_path / "hello.wat"
    wat.write_text(hello_sources["wat"])
    assert wagi_nb.run(wat).stdout == b"Hello, world!\n"


def test_run_takes_args_as_a_shell_like_string(need_toolchain):
    need_toolchain("c")
    source = ('#include <stdio.h>\nint main(int argc, char **argv) {\n'
              '    for (int i = 1; i < argc; i++) printf("<%s>", argv[i]);\n    return 0;\n}\n')
    artifact = wagi_nb.build(source, language="c")
    assert artifact.run("one 'two three'").text == "<one><two three>"
    assert artifact.run(["one 'two three'"]).text == "<one 'two three'>"
