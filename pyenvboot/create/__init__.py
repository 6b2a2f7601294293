"""``init``: build, update or repair a venv, in stages (see :mod:`pyenvboot.create.builder`)."""

# --creator: where pip comes from (see pyenvboot.create.seed). Here, so that the CLI's
# parser names the choices without importing the seeding code (tens of ms).
CREATORS = ("auto", "venv", "virtualenv")
