"""`python -m hardening apply|check|plan ...`"""

import sys

from hardening.front.cli import main

sys.exit(main())
