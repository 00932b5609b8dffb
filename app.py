"""ripdetect web app, the same as ``ripdetect app``. Start it with:

    python app.py [--model CKPT] [--host 127.0.0.1] [--port 7860] [--share]

It serves the embedded default model unless --model is given, binds to 127.0.0.1 and prints the URL.
"""

import sys

from ripdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
