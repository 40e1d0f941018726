# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m hello_service: same as the hello-service console script."""

import sys

from .cli import main

sys.exit(main())
