"""Evaluate a checkpoint: every member of a Bi-KD pair, or a stock model.

The tool is :mod:`bikd_mm.tools.test` (installed as an entry point); this
script runs it from a checkout, with the same arguments.
"""

from bikd_mm.tools.test import main

if __name__ == '__main__':
    main()
