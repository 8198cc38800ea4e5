"""`python -m hardening apply|check|plan ...`"""

import sys

from hardening.cli import main

sys.exit(main())
