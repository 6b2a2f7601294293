"""The path every container start takes: activation, identity, ``exec``, the hook, the launcher, the guard.

Standard library only, and imported lazily: this runs on every container start.
"""
