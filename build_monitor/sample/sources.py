"""What one commit of a sample service holds: its files, rendered from templates/.

templates/ holds the sources as real files (Rust, TOML, Dockerfiles) with `@KEY@` markers;
`render_template` fills them in.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from importlib import resources

HEALTHY_STATUS = 200
BROKEN_HEALTH_STATUS = 500

TEMPLATES = resources.files(__package__) / "templates"
_MARKER = re.compile(r"@([A-Z_]+)@")


@dataclass(frozen=True)
class SampleSource:
    """What one commit's source looks like."""

    revision: int
    health_status: int = HEALTHY_STATUS
    port_type_error: bool = False
    predict_off_by_one: bool = False
    reason_phrase_missing: bool = False
    flake_per_million: int | None = None
    # Generated code compiled into every commit, so a build takes seconds (benchmarks).
    ballast_functions: int = 0
    # The same, as a path dependency crate `model/` that no commit changes, with a Dockerfile
    # that builds dependencies in their own layer: what Docker's layer cache can reuse.
    dependency_functions: int = 0
    # A BuildKit Dockerfile whose build keeps target/ and the cargo registry in cache mounts.
    cache_mounts: bool = False


def service_files(name: str, source: SampleSource) -> dict[str, str]:
    """Every file of the sample repository as it is at a commit whose source is `source`."""
    if source.dependency_functions:
        return _layered_service_files(name, source)
    dockerfile = "cache-mounts.Dockerfile" if source.cache_mounts else "Dockerfile"
    return {
        "Cargo.toml": render_template("Cargo.toml", NAME=name, DEPENDENCIES=""),
        "Cargo.lock": _cargo_lock([(name, "")]),
        ".gitignore": render_template("gitignore"),
        ".dockerignore": render_template("dockerignore"),
        "Dockerfile": render_template(dockerfile, BINARY=name),
        "README.md": render_template("README.md", NAME=name),
        "src/main.rs": render_main_rs(source),
        "src/revision.rs": render_template("revision.rs", REVISION=str(source.revision)),
    } | (
        {"src/ballast.rs": render_ballast(source.ballast_functions)}
        if source.ballast_functions
        else {}
    )


def _layered_service_files(name: str, source: SampleSource) -> dict[str, str]:
    plain = service_files(name, replace(source, dependency_functions=0))
    model_manifest = render_template("Cargo.toml", NAME="model", DEPENDENCIES="")
    return plain | {
        "Cargo.toml": render_template(
            "Cargo.toml", NAME=name, DEPENDENCIES='model = { path = "model" }'
        ),
        "Cargo.lock": _cargo_lock(
            sorted([(name, '\ndependencies = [\n "model",\n]'), ("model", "")])
        ),
        "Dockerfile": render_template("layered.Dockerfile", BINARY=name),
        "model/Cargo.toml": model_manifest.split("[profile.release]")[0],
        "model/src/lib.rs": render_ballast(source.dependency_functions),
        "src/main.rs": plain["src/main.rs"]
        + "\n#[used]\nstatic MODEL: &[fn(u64) -> u64] = model::TABLE;\n",
    }


def _cargo_lock(packages: list[tuple[str, str]]) -> str:
    """The lock file of local `(package, dependency lines)` packages (no registry crates)."""
    return render_template("Cargo.lock") + "".join(
        f'\n[[package]]\nname = "{package}"\nversion = "0.1.0"{dependency_lines}\n'
        for package, dependency_lines in packages
    )


def render_ballast(functions: int) -> str:
    """`functions` small functions, all kept by a `#[used]` table so release builds compile
    them: a sample crate whose build takes seconds, like a real service's."""
    bodies = [
        f"pub fn f{i}(x: u64) -> u64 {{\n"
        f"    let mut acc = x.wrapping_mul({i * 2 + 1});\n"
        f"    for step in 0..(x % 7 + {i % 5 + 1}) {{\n"
        f"        acc = acc.rotate_left((step % 13) as u32) ^ {i * 7919 % 104729};\n"
        f"    }}\n"
        f"    acc\n}}\n"
        for i in range(functions)
    ]
    table = ", ".join(f"f{i}" for i in range(functions))
    return "".join(bodies) + f"pub static TABLE: &[fn(u64) -> u64] = &[{table}];\n"


def render_main_rs(source: SampleSource) -> str:
    """The service's main source file (beside the revision constant) for `source`."""
    port_arm = (
        "Some(text) => text.trim(),"
        if source.port_type_error
        else "Some(text) => text.trim().parse().unwrap_or(DEFAULT_PORT),"
    )
    reason = (
        "REASON_PHRASES[status as usize % 4]"
        if source.reason_phrase_missing
        else render_template("reason_match.rs").removesuffix("\n")
    )
    flaky_test = (
        ""
        if source.flake_per_million is None
        else render_template("flaky_test.rs", FLAKE_PER_MILLION=str(source.flake_per_million))
    )
    ballast = (
        "\nmod ballast;\n\n#[used]\nstatic BALLAST: &[fn(u64) -> u64] = ballast::TABLE;\n"
        if source.ballast_functions
        else ""
    )
    main = render_template(
        "main.rs",
        HEALTH_STATUS=str(source.health_status),
        PORT_ARM=port_arm,
        PREDICTION="input * 2 + 1" if source.predict_off_by_one else "input * 2",
        REASON=reason,
        FLAKY_TEST=flaky_test,
    )
    return main + ballast


def render_template(name: str, **values: str) -> str:
    """The file `name` of templates/ with each `@KEY@` marker replaced by `values[KEY]`."""
    missing = set(_MARKER.findall(_template_text(name))) - values.keys()
    if missing:
        raise KeyError(f"template {name} needs values for {sorted(missing)}")
    return _MARKER.sub(lambda marker: values[marker.group(1)], _template_text(name))


@functools.cache
def _template_text(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")
