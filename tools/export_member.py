"""Export one member of a Bi-KD checkpoint as a plain checkpoint.

The tool is :mod:`bikd_mm.tools.export_member` (installed as an entry
point); this script runs it from a checkout, with the same arguments.
"""

from bikd_mm.tools.export_member import main

if __name__ == '__main__':
    main()
