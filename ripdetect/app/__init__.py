"""The Gradio web app and its HTTP API: ``handlers`` (a few lines each over the library) and ``layout``."""
