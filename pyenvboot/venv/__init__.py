"""The venv on disk, as every command sees it: pyvenv.cfg, what its python reports, the lock."""
