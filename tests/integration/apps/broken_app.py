"""An app whose import fails: greenc must log the traceback and 'failed to boot',
keep the master up and back off instead of respawning in a tight loop."""

raise RuntimeError("broken_app refuses to import")
