"""The built-in process templates, registered via the ``cardcrm`` entry points like any plugin."""
