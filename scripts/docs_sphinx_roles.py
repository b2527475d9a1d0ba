"""A griffe extension for the docs site: Sphinx roles in docstrings become code.

Our docstrings name other objects the Sphinx way (``:class:`replay.Run```,
``:meth:`~Run.select```), which mkdocstrings would print as they are. This
turns each role into inline code of the name (the last part only after a
``~``, as Sphinx shows it). mkdocs.yml loads it; nothing else imports it.
"""

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def plain_code(match):
    """``:class:`~a.b.C``` -> ```C```; ``:func:`a.f``` -> ```a.f```."""
    shortened, name = match.groups()
    return f"`{name.rsplit('.', 1)[-1] if shortened else name}`"


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring as inline code."""

    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(plain_code, obj.docstring.value)
