import sys

from ripdetect.cli import main

sys.exit(main())
