"""Entrypoint of the image (`python -m sample_api`): the manifests never override it (PM-33)."""
import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
