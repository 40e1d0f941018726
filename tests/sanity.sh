#!/usr/bin/env bash
# ansible-test sanity on a copy of the tracked files laid out as ansible_collections/hello/platform
# (ansible-test needs that path). Test requirements go into ansible-test's own virtualenvs.
set -euo pipefail
cd "$(dirname "$0")/.."
# One work tree per checkout (keeps ansible-test's virtualenvs between runs; checkouts don't collide).
work="${HELLO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hello-platform}/sanity/$(pwd | sha256sum | cut -c1-12)"
dest="$work/ansible_collections/hello/platform"
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$dest"/ 2>/dev/null || true
# ansible-test's pip bootstrap script comes from a host we cannot reach: provide the stand-in.
pip_version="$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import PythonConfig
import inspect
src = inspect.getsource(get_venv_packages)
import re
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)"
mkdir -p "$HOME/.ansible/test/cache"
cp tests/sanity/get_pip_offline.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cd "$dest"
git init -q . && git add -A >/dev/null   # ansible-test lists files through git
ansible-test sanity --venv --python 3.11 --requirements --color no "$@"
