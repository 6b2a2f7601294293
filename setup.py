"""pyenvboot: an isolated, group-writable venv for Python container images."""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "pyenvboot" / "__init__.py").read_text()).group(1)  # type: ignore[union-attr]

setup(
    name="pyenvboot",
    version=VERSION,
    description="Bootstrap an isolated, group-writable venv in Python container images",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["pyenvboot", "pyenvboot.*"]),
    python_requires=">=3.8",
    install_requires=[],
    extras_require={"check": ["packaging>=22"], "virtualenv": ["virtualenv>=20"]},
    entry_points={"console_scripts": ["pyenvboot = pyenvboot.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        *("Programming Language :: Python :: 3.%d" % minor for minor in range(8, 14)),
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Installation/Setup",
    ],
)
