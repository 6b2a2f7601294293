"""Reading installed distributions from their metadata files, and judging their ABI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pyenvboot.create.seed import choose_wheel, fits, wheel_requires_python
from pyenvboot.packages.dists import abi_bound, read_distribution, read_distributions


def make_dist_info(site: Path, name: str, version: str, metadata: str = "", wheel: str = "", record: str = "") -> Path:
    info = site / ("%s-%s.dist-info" % (name, version))
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (name, version, metadata))
    if wheel:
        (info / "WHEEL").write_text("Wheel-Version: 1.0\n" + wheel)
    if record:
        (info / "RECORD").write_text(record)
    return info


def test_dist_info_requirements_extras_tags_and_files(tmp_path: Path) -> None:
    make_dist_info(
        tmp_path,
        "Jinja2",
        "3.1.2",
        'Requires-Dist: MarkupSafe>=2.0\nRequires-Dist: Babel>=2.7; extra == "i18n"\nProvides-Extra: i18n\n',
        "Tag: py3-none-any\n",
        "jinja2/__init__.py,sha256=x,10\n../../../bin/x,,\nJinja2-3.1.2.dist-info/RECORD,,\n",
    )
    (dist,) = read_distributions(str(tmp_path))
    assert (dist.name, dist.version, str(dist)) == ("Jinja2", "3.1.2", "Jinja2 3.1.2")
    assert dist.requires == ["MarkupSafe>=2.0", 'Babel>=2.7; extra == "i18n"']
    assert dist.extras == ["i18n"]
    assert dist.tags == ["py3-none-any"]
    assert dist.files[0] == "jinja2/__init__.py" and len(dist.files) == 3
    assert dist.location == str(tmp_path)


def test_egg_info_directory_with_requires_txt(tmp_path: Path) -> None:
    # What Debian's python3-* packages install into /usr/lib/python3/dist-packages.
    egg = tmp_path / "Jinja2-2.11.3.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.2\nName: Jinja2\nVersion: 2.11.3\n")
    (egg / "requires.txt").write_text('MarkupSafe>=0.23\n\n[i18n]\nBabel>=0.8\n\n[:python_version < "3"]\nfutures\n')
    (egg / "installed-files.txt").write_text("../jinja2/__init__.py\n")
    dist = read_distribution(str(egg))
    assert dist is not None
    assert dist.requires == ["MarkupSafe>=0.23", 'Babel>=0.8; extra == "i18n"', 'futures; python_version < "3"']
    assert dist.files == ["jinja2/__init__.py"]


def test_egg_info_file_and_junk_are_handled(tmp_path: Path) -> None:
    (tmp_path / "old-1.0.egg-info").write_text("Metadata-Version: 1.0\nName: old\nVersion: 1.0\n")
    (tmp_path / "broken-1.0.dist-info").mkdir()  # no METADATA: not counted
    (tmp_path / "notes.txt").write_text("x")
    assert [str(d) for d in read_distributions(str(tmp_path))] == ["old 1.0"]
    assert read_distributions(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    ("tags", "files", "minor", "bound"),
    [
        (["py3-none-any"], ["pure/__init__.py"], 12, None),
        (["cp311-cp311-manylinux_2_17_x86_64"], [], 12, "built for cp311-cp311-manylinux_2_17_x86_64"),
        (["cp38-abi3-manylinux_2_17_x86_64"], [], 12, None),
        (["cp313-abi3-linux_x86_64"], [], 12, "needs CPython >= 3.13 (cp313-abi3-linux_x86_64)"),
        (
            [],
            ["m/_speed.cpython-311-x86_64-linux-gnu.so"],
            12,
            "has the compiled module _speed.cpython-311-x86_64-linux-gnu.so",
        ),
        ([], ["m/_speed.cpython-312-x86_64-linux-gnu.so"], 12, None),
        (["py3-none-any"], ["m.libs/libfoo.so"], 12, None),
    ],
)
def test_abi_bound(tmp_path: Path, tags: list, files: list, minor: int, bound: object) -> None:  # type: ignore[type-arg]
    info = make_dist_info(
        tmp_path, "m", "1", "", "".join("Tag: %s\n" % t for t in tags), "".join(f + ",,\n" for f in files)
    )
    dist = read_distribution(str(info))
    assert dist is not None
    assert abi_bound(dist, minor) == bound


def pip_wheel(directory: Path, version: str, requires_python: str = "") -> str:
    path = directory / ("pip-%s-py3-none-any.whl" % version)
    meta = "Metadata-Version: 2.1\nName: pip\nVersion: %s\n" % version
    if requires_python:
        meta += "Requires-Python: %s\n" % requires_python
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pip-%s.dist-info/METADATA" % version, meta)
    return str(path)


def test_pip_wheel_choice_skips_wheels_for_newer_pythons(tmp_path: Path) -> None:
    pytest.importorskip("packaging")
    own = pip_wheel(tmp_path, "23.0.1", ">=3.7")
    debian = pip_wheel(tmp_path, "25.3", ">=3.9")
    assert wheel_requires_python(debian) == ">=3.9"
    assert choose_wheel([own], [debian], [3, 8, 18]) == own
    assert choose_wheel([own], [debian], [3, 11, 2]) == debian
    assert choose_wheel([], [], [3, 11, 2]) is None
    assert fits(None, [3, 8, 0]) and fits(">=3.8", [3, 8, 0]) and not fits(">=3.9", [3, 8, 0])


def test_pip_wheel_choice_reads_wheels_inside_an_archive_and_keeps_the_own_one_on_a_tie(tmp_path: Path) -> None:
    """Wheels the zipapp carries are named ARCHIVE/seed-wheels/NAME, as zipimport names paths."""
    pytest.importorskip("packaging")
    loose = tmp_path / "loose"
    loose.mkdir()
    archive = tmp_path / "app.pyz"
    with zipfile.ZipFile(archive, "w") as zf:
        for version, requires in (("25.0.1", ">=3.8"), ("26.3", ">=3.10")):
            wheel = Path(pip_wheel(loose, version, requires))
            zf.writestr("seed-wheels/" + wheel.name, wheel.read_bytes())
    carried = [str(archive / "seed-wheels" / n) for n in ("pip-25.0.1-py3-none-any.whl", "pip-26.3-py3-none-any.whl")]
    assert wheel_requires_python(carried[1]) == ">=3.10"
    assert wheel_requires_python(str(archive / "seed-wheels" / "pip-1.0-py3-none-any.whl")) is None
    assert choose_wheel([], carried, [3, 8, 18]) == carried[0]
    assert choose_wheel([], carried, [3, 12, 1]) == carried[1]
    own = pip_wheel(tmp_path, "26.3", ">=3.9")
    assert choose_wheel([own], carried, [3, 12, 1]) == own
