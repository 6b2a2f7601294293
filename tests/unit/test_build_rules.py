"""The rules of a build step (``pyenvboot pip`` and ``run``): where caches go, how installers find the venv."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from pyenvboot.installers import environment as buildenv


def test_mountinfo_mount_points_are_unescaped(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "95 22 8:1 /var/cache/x /root/.cache/my\\040pip rw,relatime - ext4 /dev/sda1 rw\n"
    )
    assert buildenv.mount_points(str(info)) == ["/", "/root/.cache/my pip"]
    assert buildenv.mount_points(str(tmp_path / "missing")) == []


def test_a_directory_listed_in_mountinfo_is_a_mount_point(tmp_path: Path) -> None:
    """Same device as its parent (a bind mount from the same file system): only mountinfo knows."""
    cache = tmp_path / "pip"
    cache.mkdir()
    assert not buildenv.is_mount_point(str(cache), [])
    assert buildenv.is_mount_point(str(cache), [str(cache)])
    assert not buildenv.is_mount_point(str(tmp_path / "missing"), [str(tmp_path / "missing")])


def rule(monkeypatch: pytest.MonkeyPatch, env: Dict[str, str], mounts: List[str]) -> Dict[str, str]:
    monkeypatch.setattr(buildenv, "mount_points", lambda: mounts)
    return buildenv.cache_changes(env, lambda: "/scratch")


def test_without_a_mount_no_cache_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert rule(monkeypatch, {"HOME": str(tmp_path)}, []) == {
        "PIP_NO_CACHE_DIR": "1",
        "UV_NO_CACHE": "1",
        "POETRY_CACHE_DIR": "/scratch/pypoetry",
        "PIPENV_CACHE_DIR": "/scratch/pipenv",
    }


def test_a_mounted_cache_dir_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pip, uv = tmp_path / ".cache/pip", tmp_path / ".cache/uv"
    pip.mkdir(parents=True)
    uv.mkdir()
    changes = rule(monkeypatch, {"HOME": str(tmp_path)}, [str(pip), str(uv)])
    assert changes["PIP_CACHE_DIR"] == str(pip) and "PIP_NO_CACHE_DIR" not in changes
    assert changes["UV_CACHE_DIR"] == str(uv) and "UV_NO_CACHE" not in changes


def test_xdg_cache_home_is_where_installers_look(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "uv").mkdir()
    changes = rule(monkeypatch, {"HOME": "/", "XDG_CACHE_HOME": str(tmp_path)}, [str(tmp_path / "uv")])
    assert changes["UV_CACHE_DIR"] == str(tmp_path / "uv")


def test_a_cache_the_user_configured_is_left_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PIP_CACHE_DIR": "/mine", "UV_NO_CACHE": "0", "PYENVBOOT_PIP_CACHE": "1"}
    changes = rule(monkeypatch, env, [])
    assert not any(name.startswith(("PIP_", "UV_")) for name in changes)


def test_installers_are_pointed_at_the_venv() -> None:
    changes = buildenv.installer_changes("/opt/venv")
    assert changes["UV_PROJECT_ENVIRONMENT"] == "/opt/venv"
    assert changes["UV_PYTHON"] == "/opt/venv/bin/python"
    assert changes["UV_PYTHON_DOWNLOADS"] == "never"
    assert changes["POETRY_VIRTUALENVS_CREATE"] == "false"


@pytest.mark.parametrize(
    ("argv", "known"),
    [
        (["uv", "pip", "install", "-r", "req.txt"], True),
        (["/usr/local/bin/uv", "sync", "--frozen"], True),
        (["poetry", "install"], True),
        (["pipenv", "sync"], True),
        (["pip3.11", "install", "demo"], True),
        (["pip", "list"], False),  # what pip writes then is not what an install writes
        (["uv", "pip", "install", "--target", "/opt/venv/x", "demo"], False),
        (["uv", "pip", "install", "--prefix=/opt/venv/x", "demo"], False),
        (["sh", "-c", "uv pip install demo"], False),  # a script may write anywhere
        (["python", "-m", "compileall", "/opt/venv"], False),
        (["uv", "run", "python", "setup.py", "install"], False),  # runs anything
        (["poetry", "run", "make"], False),
        (["uv", "--directory", "/app", "sync"], False),  # options first: unknown, walked
        (["uv", "pip", "sync", "req.txt"], True),
    ],
)
def test_run_scopes_the_policy_only_for_known_installers(argv: List[str], known: bool) -> None:
    from pyenvboot.installers.run import scoped

    assert scoped(argv) is known


def test_uv_compiling_site_packages_is_seen_in_argv_environment_and_config(tmp_path: Path) -> None:
    from pyenvboot.installers.run import compiles_site_packages

    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    assert compiles_site_packages(["uv", "sync", "--compile-bytecode"], env)
    assert compiles_site_packages(["uv", "pip", "sync", "r.txt"], {**env, "UV_COMPILE_BYTECODE": "1"})
    assert not compiles_site_packages(["uv", "pip", "install", "--compile-bytecode", "x"], env)  # only what it installs
    assert not compiles_site_packages(["poetry", "install", "--compile"], env)  # poetry records its byte code
    config = tmp_path / ".config" / "uv" / "uv.toml"
    config.parent.mkdir(parents=True)
    assert not compiles_site_packages(["uv", "sync"], env)
    config.write_text("compile-bytecode = true\n")
    assert compiles_site_packages(["uv", "sync"], env)
    assert not compiles_site_packages(["uv", "sync", "--no-config"], env)
