"""A tiny app: shows who it runs as, where its packages come from, and that it can install more."""

import getpass
import importlib.metadata
import os
import sys
import sysconfig
import tempfile

import jinja2


def can_write(directory):
    """Really write a file there (os.access can be wrong on read-only mounts)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return "writable"
    except OSError as exc:
        return "not writable: %s" % exc.strerror


umask = os.umask(0o002)
os.umask(umask)
home = os.environ.get("HOME", "")
site_packages = sysconfig.get_paths()["purelib"]

print("user=%s uid=%d gid=%d umask=%04o" % (getpass.getuser(), os.getuid(), os.getgid(), umask))
print("home=%s (%s)" % (home, can_write(home)))
print("python=%s venv=%s" % (sys.version.split()[0], sys.prefix))
print("site-packages=%s (%s)" % (site_packages, can_write(site_packages)))
print("jinja2=%s from %s" % (importlib.metadata.version("jinja2"), os.path.dirname(jinja2.__file__)))
