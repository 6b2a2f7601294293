"""Installers in derived builds: ``pyenvboot pip`` and ``pyenvboot run`` (uv, poetry, pipenv)."""
