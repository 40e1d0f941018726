"""Stand-in for ansible-test's get-pip bootstrap script.

ansible-test bootstraps pip into its sanity virtualenvs with a get-pip.py downloaded from
ci-files.testing.ansible.com, a host this test bed cannot reach; its error message says to save
the script in ~/.ansible/test/cache/. tests/sanity.sh saves this file there instead: it installs
pip with the standard library's ensurepip, then runs `pip install` with the same arguments
(the requested pip version and packages come from PyPI as usual).
"""
import ensurepip
import subprocess
import sys

import os

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs this with a stripped environment: trust the system CA bundle explicitly,
# as the rest of the test bed does (a TLS-inspecting proxy re-signs PyPI's certificate).
if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
    args = ["--cert", "/etc/ssl/certs/ca-certificates.crt"] + args
ensurepip.bootstrap(upgrade=True)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
