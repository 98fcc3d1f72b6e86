"""The command-line tools, installed as entry points.

``bikd-train`` (:mod:`bikd_mm.tools.train`), ``bikd-test``
(:mod:`bikd_mm.tools.test`) and ``bikd-export``
(:mod:`bikd_mm.tools.export_member`); each also runs as
``python -m bikd_mm.tools.<name>``, and ``tools/<name>.py`` in a checkout
calls the same ``main``.
"""
