import sys

from app.bench.gui.measure import main

sys.exit(main())
