"""``python -m ops.envcheck``: env.check as a commit hook (see ops.envcheck.cli)."""

import sys

from ops.envcheck.cli import main

sys.exit(main())
