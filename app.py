"""ripdetect web app. Start it with:

    python app.py [--model CKPT] [--host 127.0.0.1] [--port 7860] [--share]

It serves the embedded default model unless --model is given, binds to 127.0.0.1 and prints the URL.
"""

import argparse
import sys

from ripdetect.cli import app_cmd
from ripdetect.errors import RipdetectError

if __name__ == "__main__":
    args = app_cmd.add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    try:
        sys.exit(app_cmd.run(args))
    except RipdetectError as exc:
        sys.exit(f"ripdetect: error: {exc}")
