"""Load this checkout as the collection hello.platform (through .collections/, see `make collection`)."""
import os

from ansible.plugins.loader import init_plugin_loader

COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".collections"))
init_plugin_loader([COLLECTIONS_PATH])
