"""``python -m pyenvboot`` and the zipapp entry point."""

from __future__ import annotations

import sys

from pyenvboot.cli import main

if __name__ == "__main__":
    sys.exit(main())
