"""``init``: build, update or repair a venv, in stages (see :mod:`pyenvboot.create.builder`)."""
