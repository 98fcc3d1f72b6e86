"""Train a model: a Bi-KD pair or any stock mmseg / mmpretrain config.

The tool is :mod:`bikd_mm.tools.train` (installed as an entry point); this
script runs it from a checkout, with the same arguments.
"""

from bikd_mm.tools.train import main

if __name__ == '__main__':
    main()
