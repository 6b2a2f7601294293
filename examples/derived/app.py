"""A tiny app: shows who it runs as, where its packages come from, and that it can install more."""

import getpass
import os
import sys

import jinja2

print("user=%s uid=%d gid=%d home=%s umask=%04o" % (
    getpass.getuser(), os.getuid(), os.getgid(), os.environ.get("HOME"), os.umask(0o002)))
print("python=%s prefix=%s" % (sys.version.split()[0], sys.prefix))
print("jinja2 %s from %s" % (jinja2.__version__, os.path.dirname(jinja2.__file__)))
