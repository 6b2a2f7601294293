"""``check``: what is wrong with a venv, said to the user who asked."""
