"""`python -m batch_health`: the same CLI as the `batch-health` console script."""

import sys

from batch_health.cli import main

sys.exit(main())
