import sys

from followup.cli import main

sys.exit(main())
