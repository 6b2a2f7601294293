"""The permission policy: group rw, setgid directories, never world-writable; ``fix-permissions``."""
