"""The Teams app package for the TSM bot: manifest template, icons and the builder.

``build_package(bot_id, out)`` writes the zip that a Teams admin uploads; ``render_manifest(bot_id)``
returns the manifest as a dict.  Microsoft's JSON schema, for checking a manifest, is in
``appmanifest.schema`` (installed on demand from npm; not needed to build a package).
"""

from appmanifest.build import build_package, developer_is_placeholder, render_manifest

__all__ = ["build_package", "developer_is_placeholder", "render_manifest"]
